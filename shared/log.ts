/**
 * A small structured logger. JSON lines for the daemons, readable text for the CLI; child loggers carry
 * context (session, user, connection). Secrets are redacted by key before anything is written.
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  readonly level: LogLevel;
}

const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|grant_token|private|credential|api[_-]?key|^key$/i;

/** Replaces the values of secret-looking keys, recursively. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(('code' in value) ? { code: (value as { code: unknown }).code } : {}) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && typeof v !== 'boolean' ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'text';
  write?: (line: string) => void;
  now?: () => Date;
  fields?: LogFields;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return new JsonOrTextLogger({
    threshold: LEVELS[options.level ?? 'info'],
    level: options.level ?? 'info',
    format: options.format ?? 'json',
    write: options.write ?? ((line: string) => process.stderr.write(line + '\n')),
    now: options.now ?? (() => new Date()),
  }, options.fields ?? {});
}

interface Sink {
  threshold: number;
  level: LogLevel;
  format: 'json' | 'text';
  write: (line: string) => void;
  now: () => Date;
}

/**
 * A class, not closures: the daemons make a child logger per client connection, and a child is then one small
 * object (its fields and the shared sink) instead of a function object per method.
 */
class JsonOrTextLogger implements Logger {
  readonly #sink: Sink;
  readonly #base: LogFields;

  constructor(sink: Sink, base: LogFields) {
    this.#sink = sink;
    this.#base = base;
  }

  get level(): LogLevel {
    return this.#sink.level;
  }

  trace(msg: string, fields?: LogFields): void {
    this.#emit('trace', msg, fields);
  }

  debug(msg: string, fields?: LogFields): void {
    this.#emit('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.#emit('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.#emit('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.#emit('error', msg, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonOrTextLogger(this.#sink, { ...this.#base, ...fields });
  }

  #emit(lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void {
    const sink = this.#sink;
    if (LEVELS[lvl] < sink.threshold) return;
    const merged = redact({ ...this.#base, ...(fields ?? {}) }) as LogFields;
    if (sink.format === 'json') {
      sink.write(JSON.stringify({ time: sink.now().toISOString(), level: lvl, msg, ...merged }));
    } else {
      const extra = Object.entries(merged)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      sink.write(`${lvl === 'info' ? '' : lvl + ': '}${msg}${extra ? ' ' + extra : ''}`);
    }
  }
}

export const silentLogger: Logger = createLogger({ level: 'silent' });

export function parseLogLevel(v: string | undefined, fallback: LogLevel): LogLevel {
  return v !== undefined && v in LEVELS ? (v as LogLevel) : fallback;
}
