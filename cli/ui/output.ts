import { visible, visibleInLine } from './visible.js';

/**
 * Where the CLI writes: results to stdout, everything else (progress, warnings, errors) to stderr. Lines for
 * people show control characters as escapes ({@link visible}): they may carry other people's text.
 */
export interface Output {
  /** A result line (stdout). */
  print(line: string): void;
  /** Data as the database returned it (`hoop exec` results), byte for byte: not made visible. */
  data(text: string): void;
  /** A progress or info line for people (stderr), suppressed by --quiet-style callers if needed. */
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
  json(value: unknown): void;
  /** Where results go, for data streamed as it comes (COPY … TO STDOUT): stdout, never ended. */
  readonly stream: NodeJS.WritableStream;
  readonly isTTY: boolean;
  readonly color: boolean;
}

export function createOutput(opts: {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  noColor: boolean;
}): Output {
  const isTTY = opts.stdout.isTTY === true;
  const color = isTTY && !opts.noColor;
  return {
    stream: opts.stdout,
    isTTY,
    color,
    print: (l) => void opts.stdout.write(visible(l) + '\n'),
    data: (t) => void opts.stdout.write(t + '\n'),
    info: (l) => void opts.stderr.write(visible(l) + '\n'),
    warn: (l) => void opts.stderr.write(visible(l.startsWith('warning:') ? l : `warning: ${l}`) + '\n'),
    error: (l) => void opts.stderr.write(visible(l) + '\n'),
    json: (v) => void opts.stdout.write(JSON.stringify(v, null, 2) + '\n'),
  };
}

/** Renders rows as an aligned plain-text table; a cell stays on its line (its newlines are shown as `\n`). */
export function table(headers: readonly string[], rowsIn: readonly (readonly string[])[]): string {
  const rows = rowsIn.map((r) => r.map((c) => visibleInLine(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** "3m ago", "2h ago", "just now". */
export function ago(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
  if (s < 10) return 'just now';
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
