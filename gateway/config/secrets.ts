/**
 * Secret references in the gateway config: `${env:NAME}` and `${file:PATH}`, anywhere inside a string value
 * (`password: ${env:DB_PW}`, `database_url: postgres://hoop:${file:/run/secrets/pw}@db/hoop`). Write `$${` for a
 * literal `${`. Problems name the key and the reference, never a value.
 *
 * A reference in the user or password of a URL (`scheme://user:${…}@host`) is percent-encoded as it is put in,
 * since secret managers generate passwords with `#`, `/`, `?`, `@` or `%`, which would otherwise end the password
 * early or fail the URL. Anywhere else, and a reference that is the whole value, is put in as it is.
 */
import { isAbsolute, resolve } from 'node:path';
import { formatPath, problem } from './schema.js';

export interface SecretSourceOptions {
  /** The environment to read `${env:…}` from (passed in: only config loading reads process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a file as UTF-8; throws (with an errno `code`) when it cannot. */
  readFile: (path: string) => string;
  /** For `~/…` in `${file:…}`. */
  homeDir: string;
  /** Relative `${file:…}` paths resolve against this (the config file's directory). */
  baseDir: string;
}

export interface SecretProblem {
  /** `connections[0].password` */
  path: string;
  /** `${env:SHOP_DB_PASSWORD}`; never the value. */
  reference: string;
  /** "<expected> — <fix>", like schema messages. */
  message: string;
}

export interface ResolvedSecrets {
  /** A copy of the input with every reference replaced by its value. */
  value: unknown;
  /** Key path → the string as written (with its references), for every string that held a reference. */
  sources: Map<string, string>;
  problems: SecretProblem[];
}

const REF = /\$\$\{|\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Expands a leading `~` or `~/` to the home directory. */
export function expandHome(p: string, homeDir: string): string {
  if (p === '~') return homeDir;
  if (p.startsWith('~/')) return homeDir + p.slice(1);
  return p;
}

/** Walks a parsed YAML value and replaces secret references; collects every problem rather than stopping at one. */
export function resolveSecretRefs(raw: unknown, options: SecretSourceOptions): ResolvedSecrets {
  const sources = new Map<string, string>();
  const problems: SecretProblem[] = [];

  const resolveString = (s: string, path: readonly PropertyKey[]): string => {
    if (!s.includes('${')) return s;
    const key = formatPath(path);
    let referenced = false;
    const userinfoEnd = urlUserinfoEnd(s);
    const out = s.replace(REF, (whole: string, body: string | undefined, offset: number) => {
      if (whole === '$${') return '${';
      referenced = true;
      const put = offset < userinfoEnd ? encodeURIComponent : (v: string): string => v;
      const reference = whole;
      const fail = (message: string): string => {
        problems.push({ path: key, reference, message });
        return '';
      };
      const colon = (body ?? '').indexOf(':');
      const kind = colon < 0 ? '' : body!.slice(0, colon);
      const arg = colon < 0 ? '' : body!.slice(colon + 1).trim();
      if (kind === 'env') {
        if (!ENV_NAME.test(arg)) return fail(problem(`${reference} is not a valid variable name`, 'use ${env:NAME} with letters, digits and _'));
        const v = options.env[arg];
        if (v === undefined) return fail(problem(`${reference} is not set`, `set the environment variable ${arg}, or change the reference`));
        if (v === '') return fail(problem(`${reference} is empty`, `give the environment variable ${arg} a value`));
        return put(v);
      }
      if (kind === 'file') {
        if (arg === '') return fail(problem(`${reference} names no file`, 'use ${file:/path/to/secret}'));
        const p = expandHome(arg, options.homeDir);
        const abs = isAbsolute(p) ? p : resolve(options.baseDir, p);
        try {
          return put(options.readFile(abs).replace(/\r?\n$/, ''));
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          const why = typeof code === 'string' ? code : 'unreadable';
          return fail(problem(`${reference} cannot be read (${why}: ${abs})`, 'create the file, make it readable by the gateway, or fix the path'));
        }
      }
      return fail(problem(`${reference} is not a secret reference`, 'use ${env:NAME} or ${file:PATH}; write $${ for a literal ${'));
    });
    if (referenced) sources.set(key, s);
    return out;
  };

  const walk = (v: unknown, path: PropertyKey[]): unknown => {
    if (typeof v === 'string') return resolveString(v, path);
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(v)) {
        Object.defineProperty(out, k, { value: walk(child, [...path, k]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return v;
  };

  return { value: walk(raw, []), sources, problems };
}

/**
 * Where the user and password of the URL `s` (as written, references included) end: the index of the `@` that
 * closes them, or -1 when `s` is not a URL or has none. References are skipped whole, so a `/` or `@` in a
 * `${file:…}` path does not end the authority.
 */
function urlUserinfoEnd(s: string): number {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(s);
  if (!scheme) return -1;
  let at = -1;
  for (let i = scheme[0].length; i < s.length; i++) {
    if (s.startsWith('${', i)) {
      const close = s.indexOf('}', i);
      if (close < 0) break;
      i = close;
      continue;
    }
    const c = s[i];
    if (c === '/' || c === '?' || c === '#') break;
    if (c === '@') at = i;
  }
  return at;
}
