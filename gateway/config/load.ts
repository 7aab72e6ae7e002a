/**
 * Loads the gateway config once: YAML file → HOOP_* env → flags, then secret references, then a read of each file
 * start-up reads (TLS certificate, key and CA files), then the zod schema, then path expansion; the result is
 * deep-frozen. Every problem is reported in one `config_invalid` HoopError whose message names the key, the
 * value (never a secret's) and the fix. See docs/configuration.md.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { HoopError } from '../../shared/errors.js';
import { DERIVED_KEYS, formatPath, gatewayConfigSchema } from './schema.js';
import type { GatewayConfig, GatewayConfigInput } from './schema.js';
import { expandHome, resolveSecretRefs } from './secrets.js';
import { READ_AT_START_KEYS, startFileProblems } from './files.js';
import { redactDatabaseUrl, redactWebhookUrl } from './redact.js';

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Values from command-line flags; objects merge into the file's, everything else replaces. */
export type GatewayConfigOverrides = DeepPartial<GatewayConfigInput>;

export interface LoadGatewayConfigOptions {
  /** The YAML file. Relative paths inside it resolve against its directory. */
  file?: string;
  /** The YAML text itself (tests); `file`, if also given, is then only used in messages and for relative paths. */
  yamlText?: string;
  env: Readonly<Record<string, string | undefined>>;
  overrides?: GatewayConfigOverrides;
  readFile?: (path: string) => string;
  /** For relative paths given by env or flags; defaults to process.cwd(). */
  cwd?: string;
  /** For `~`; defaults to env.HOME, then os.homedir(). */
  homeDir?: string;
}

/** HOOP_* variables that override a file key (empty values are ignored). */
export const ENV_OVERRIDES: readonly { readonly name: string; readonly path: readonly string[] }[] = [
  { name: 'HOOP_LISTEN', path: ['listen'] },
  { name: 'HOOP_PUBLIC_URL', path: ['public_url'] },
  { name: 'HOOP_DATA_DIR', path: ['data_dir'] },
  { name: 'HOOP_DATABASE_URL', path: ['database_url'] },
  { name: 'HOOP_LOG_LEVEL', path: ['log', 'level'] },
  { name: 'HOOP_METRICS_LISTEN', path: ['metrics', 'listen'] },
];

/** Key paths holding file-system paths (expanded after parsing). Those read at start-up are read here too. */
const PATH_KEYS = [/^data_dir$/, ...READ_AT_START_KEYS];

const SOURCES = Symbol('hoop.config.sources');
const MAX_YAML_ERRORS = 3;
const HINT = 'fix each key listed above; docs/configuration.md describes every key';
const SECRET_KEY = /pass(word)?|secret|token|private|credential|api[_-]?key/i;
/** Policy sections name columns like `*.api_key`; their values are rules, not secrets. */
const POLICY_BLOB = /^connections\[\d+\]\.(guardrails|approvals|masking)[.[]/;

type Tree = Record<string, unknown>;

function isPlainObject(v: unknown): v is Tree {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars replace. */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === '__proto__') continue;
    out[k] = merge(base[k], v);
  }
  return out;
}

function setAt(path: readonly string[], value: unknown): Tree {
  return path.reduceRight<unknown>((acc, key) => ({ [key]: acc }), value) as Tree;
}

function leafPaths(v: unknown, prefix: PropertyKey[] = []): PropertyKey[][] {
  if (!isPlainObject(v)) return [prefix];
  return Object.entries(v).flatMap(([k, child]) => leafPaths(child, [...prefix, k]));
}

function valueAt(root: unknown, path: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, seg as string)) return { present: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return { present: true, value: cur };
}

function describe(path: readonly PropertyKey[], value: unknown, sources: ReadonlyMap<string, string>): string {
  const key = formatPath(path);
  const source = sources.get(key);
  if (source !== undefined) return `the value of ${source}`;
  const last = String(path[path.length - 1] ?? '');
  if (SECRET_KEY.test(last) && value !== undefined) return '[redacted]';
  if (typeof value === 'string' && last === 'database_url') return JSON.stringify(redactDatabaseUrl(value));
  if (typeof value === 'string' && last === 'webhook_url') return JSON.stringify(redactWebhookUrl(value));
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const s = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function splitMessage(message: string): { expected: string; fix: string } {
  const i = message.indexOf(' — ');
  if (i < 0) return { expected: message.charAt(0).toLowerCase() + message.slice(1), fix: 'see docs/configuration.md' };
  return { expected: message.slice(0, i), fix: message.slice(i + 3) };
}

interface Context {
  raw: unknown;
  sources: ReadonlyMap<string, string>;
  origins: ReadonlyMap<string, string>;
}

function originOf(path: readonly PropertyKey[], origins: ReadonlyMap<string, string>): string {
  const key = formatPath(path);
  for (const [p, origin] of origins) {
    if (key === p || key.startsWith(`${p}.`) || key.startsWith(`${p}[`)) return ` (from ${origin})`;
  }
  return '';
}

function formatIssue(issue: z.core.$ZodIssue, ctx: Context): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) =>
      `${formatPath([...issue.path, k])}: unknown key${originOf([...issue.path, k], ctx.origins)} — remove it or fix its spelling (docs/configuration.md lists every key)`);
  }
  const { expected, fix } = splitMessage(issue.message);
  const at = valueAt(ctx.raw, issue.path);
  const key = formatPath(issue.path) || '(top level)';
  const got = at.present ? `, got ${describe(issue.path, at.value, ctx.sources)}` : ' (missing)';
  return [`${key}: ${expected}${got}${originOf(issue.path, ctx.origins)} — ${fix}`];
}

function configError(where: string, problems: string[], cause?: unknown): HoopError {
  const n = problems.length;
  return new HoopError('config_invalid', `invalid gateway configuration (${where}), ${n} problem${n === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
    hint: HINT,
    details: { problems },
    cause,
  });
}

function parseYaml(text: string, where: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = text.split(/\r?\n/);
    // One mistake often cascades into dozens of errors; the first few locate it.
    const problems = doc.errors.slice(0, MAX_YAML_ERRORS).map((err) => {
      const pos = err.linePos?.[0];
      const firstLine = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
      const line = pos ? (lines[pos.line - 1] ?? '') : '';
      const quoteHint = /[{[][^}\]]*\$\{/.test(line) ? ' — inside { } or [ ], quote secret references: "${env:NAME}"' : '';
      return `${where}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax error: ${firstLine}${quoteHint}`;
    });
    if (doc.errors.length > MAX_YAML_ERRORS) problems.push(`(${doc.errors.length - MAX_YAML_ERRORS} more YAML errors follow from the ones above)`);
    throw configError(where, problems, doc.errors[0]);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw configError(where, [`${where}: expected a mapping of keys at the top level — see docs/configuration.md`]);
  return value;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/** Rebuilds the tree with `fn` applied to each string leaf whose key path matches. */
function mapStrings(v: unknown, path: PropertyKey[], fn: (key: string, s: string) => string): unknown {
  if (typeof v === 'string') return fn(formatPath(path), v);
  if (Array.isArray(v)) return v.map((item, i) => mapStrings(item, [...path, i], fn));
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, c]) => [k, mapStrings(c, [...path, k], fn)]));
  return v;
}

/**
 * Loads, validates and freezes the gateway config. Precedence: `overrides` (flags) > HOOP_* env > file > defaults.
 * @throws HoopError `config_invalid`, listing every problem at once.
 */
export function loadGatewayConfig(options: LoadGatewayConfigOptions): GatewayConfig {
  const readFile = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const cwd = options.cwd ?? process.cwd();
  const homeDir = options.homeDir ?? options.env.HOME ?? homedir();
  const where = options.file ?? (options.yamlText !== undefined ? 'inline YAML' : 'defaults');
  const fileDir = options.file ? dirname(resolve(cwd, options.file)) : cwd;

  let text = options.yamlText;
  if (text === undefined && options.file !== undefined) {
    try {
      text = readFile(options.file);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new HoopError('config_invalid', `cannot read the gateway config file ${options.file} (${typeof code === 'string' ? code : 'unreadable'})`, {
        hint: 'pass --config with the path of an existing, readable YAML file',
        cause: err,
      });
    }
  }
  const fromFile = text === undefined ? {} : parseYaml(text, where);

  const origins = new Map<string, string>();
  let merged: unknown = fromFile;
  for (const { name, path } of ENV_OVERRIDES) {
    const v = options.env[name];
    if (v === undefined || v === '') continue;
    merged = merge(merged, setAt(path, v));
    origins.set(formatPath(path), name);
  }
  if (options.overrides) {
    merged = merge(merged, options.overrides);
    for (const p of leafPaths(options.overrides)) origins.set(formatPath(p), 'a command-line flag');
  }

  const secrets = resolveSecretRefs(merged, { env: options.env, readFile, homeDir, baseDir: fileDir });
  const ctx: Context = { raw: secrets.value, sources: secrets.sources, origins };
  const secretPaths = new Set(secrets.problems.map((p) => p.path));
  const resolvePath = (key: string, s: string): string => {
    const p = expandHome(s, homeDir);
    if (isAbsolute(p)) return p;
    return resolve(origins.has(key) ? cwd : fileDir, p);
  };
  const problems = [...secrets.problems, ...startFileProblems(secrets.value, { readFile, resolvePath, skip: secretPaths })]
    .map((p) => `${p.path}: ${p.message.replace(' — ', `${originOf([p.path], origins)} — `)}`);

  const parsed = gatewayConfigSchema.safeParse(secrets.value, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // A failed reference already explains the value it could not produce.
      if (secretPaths.has(formatPath(issue.path))) continue;
      problems.push(...formatIssue(issue, ctx));
    }
  }
  if (problems.length > 0 || !parsed.success) throw configError(where, problems);

  const withPaths = mapStrings(parsed.data, [], (key, s) => (PATH_KEYS.some((re) => re.test(key)) ? resolvePath(key, s) : s)) as Tree;
  const sources = new Map(secrets.sources);
  // A database_url given in the environment is printed as a reference to it, so that `--print-config` output
  // loads again (its redacted password would not) and still shows no secret.
  const dbUrl = (secrets.value as Tree).database_url;
  if (origins.get('database_url') === 'HOOP_DATABASE_URL' && !sources.has('database_url') && typeof dbUrl === 'string' && urlHasPassword(dbUrl)) {
    sources.set('database_url', '${env:HOOP_DATABASE_URL}');
  }
  Object.defineProperty(withPaths, SOURCES, { value: sources, enumerable: false });
  return deepFreeze(withPaths) as unknown as GatewayConfig;
}

/**
 * The effective config as YAML, safe to print (`--print-config`). Values that came from `${env:…}`/`${file:…}`
 * show their reference; inline passwords and secrets, database_url credentials and webhook paths are redacted.
 */
export function printConfig(config: GatewayConfig): string {
  const sources = ((config as unknown as Record<symbol, unknown>)[SOURCES] ?? new Map()) as ReadonlyMap<string, string>;
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (!isPlainObject(v)) return v;
    return Object.fromEntries(Object.entries(v).filter(([k]) => !DERIVED_KEYS.has(k)).map(([k, c]) => [k, strip(c)]));
  };
  const printable = mapStrings(strip(config), [], (key, s) => {
    const source = sources.get(key);
    if (source !== undefined) return source;
    const last = key.slice(key.lastIndexOf('.') + 1);
    if (SECRET_KEY.test(last) && !POLICY_BLOB.test(key)) return '[redacted]';
    if (last === 'database_url') return redactDatabaseUrl(s);
    if (last === 'webhook_url') return redactWebhookUrl(s);
    // A literal `${` was written `$${` (it is not a reference): printed so, it reads back as it was.
    return s.replaceAll('${', () => '$${'); // (a function: in a replacement string, $$ means $)
  });
  return `# effective gateway configuration (secrets redacted)\n${YAML.stringify(printable)}`;
}

function urlHasPassword(url: string): boolean {
  return URL.canParse(url) && new URL(url).password !== '';
}
