/**
 * `hoop gateway check`: loads the configuration exactly as `hoop gateway start` does, then checks what start-up
 * needs (checks.ts), without starting anything. The database, the identity providers and the targets are checked
 * at the same time; results come in a fixed order.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../shared/log.js';
import type { GatewayConfig } from '../config/schema.js';
import { connectStateDatabase, serverOf } from '../store/state-database.js';
import { migrations } from '../store/migrations/index.js';
import { readMasterKey } from '../crypto/master-key.js';
import { checkEmbeddedDatabase, checkIssuer, checkMasterKey, checkMigrations, checkTarget, checkTls, oneLine, type CheckResult } from './checks.js';

export type { CheckResult } from './checks.js';

export interface PreflightOptions {
  /** Loads the configuration as `hoop gateway start` does (same loader, file, env and flags). */
  loadConfig: () => GatewayConfig;
  /** What the configuration came from, for the `config` line: the file, or what stands for none. */
  source: string;
  /** The environment start-up reads HOOP_MASTER_KEY from (and its `${env:…}` references). */
  env: Readonly<Record<string, string | undefined>>;
  /** For the database pool's own warnings. */
  logger: Logger;
  now?: () => Date;
  fetch?: typeof fetch;
  readFile?: (path: string) => Promise<string>;
  /** Per identity-provider request; default 5 s. */
  identityTimeoutMs?: number;
  /** Per target TCP connection; default 3 s. */
  targetTimeoutMs?: number;
}

/** Every check's result. An invalid configuration is the only result when the configuration cannot be loaded. */
export async function runPreflight(o: PreflightOptions): Promise<CheckResult[]> {
  let config: GatewayConfig;
  try {
    config = o.loadConfig();
  } catch (e) {
    // The loader's messages name keys and references, never a secret's value.
    return [{ check: 'config', ok: false, detail: oneLine(e) }];
  }
  const n = config.connections.length;
  const results: CheckResult[] = [{ check: 'config', ok: true, detail: `valid: ${o.source} (${n} connection${n === 1 ? '' : 's'})` }];
  const now = o.now ?? (() => new Date());
  const read = o.readFile ?? ((p: string) => readFile(p, 'utf8'));
  const doFetch = o.fetch ?? fetch;
  const idMs = o.identityTimeoutMs ?? 5000;

  const tls = config.tls ? checkTls(config.tls, config.public_url, now(), read) : undefined;
  const database = databaseChecks(config, o);
  const issuers = [
    checkIssuer('identity provider', config.identity.issuer, idMs, doFetch),
    ...config.identity.workload_issuers.map((w) => checkIssuer('workload issuer', w.issuer, idMs, doFetch)),
  ];
  const targets = config.connections.map((c) => checkTarget(c, o.targetTimeoutMs ?? 3000));
  if (tls) results.push(await tls);
  results.push(...await database, ...await Promise.all(issuers), ...await Promise.all(targets));
  return redact(results, await secretsOf(config, o.env));
}

/** `database`, `migrations` (when it can be looked at) and `master key`, which needs the database's sealed keys. */
async function databaseChecks(config: GatewayConfig, o: PreflightOptions): Promise<CheckResult[]> {
  const keyOptions = { configured: o.env.HOOP_MASTER_KEY, env: o.env, dataDir: config.data_dir };
  const url = config.database_url;
  if (!url) {
    return [await checkEmbeddedDatabase(config.data_dir), await checkMasterKey({ ...keyOptions, db: undefined, why: 'this check does not start the embedded PostgreSQL' })];
  }
  let db;
  try {
    db = await connectStateDatabase({ url, setting: 'database_url', logger: o.logger, max: 2, connectTimeoutMs: config.database_connect_timeout_ms });
  } catch (e) {
    return [{ check: 'database', ok: false, detail: oneLine(e) }, await checkMasterKey({ ...keyOptions, db: undefined, why: 'the database cannot be reached' })];
  }
  try {
    return [
      { check: 'database', ok: true, detail: `${serverOf(url)} (database_url): connected and answering` },
      await checkMigrations(db, migrations),
      await checkMasterKey({ ...keyOptions, db }),
    ];
  } finally {
    await db.close();
  }
}

/** Values that must never be printed: targets' passwords, the database password, the master key. */
async function secretsOf(config: GatewayConfig, env: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  const out = config.connections.map((c) => c.password ?? '');
  if (config.database_url && URL.canParse(config.database_url)) {
    const pw = new URL(config.database_url).password;
    out.push(pw, safeDecode(pw));
  }
  const key = await readMasterKey({ configured: env.HOOP_MASTER_KEY, env, dataDir: config.data_dir }).catch(() => undefined);
  if (key) out.push(key.toString('base64'), key.toString('base64').replace(/=+$/, ''));
  if (env.HOOP_MASTER_KEY && !env.HOOP_MASTER_KEY.includes('${')) out.push(env.HOOP_MASTER_KEY.trim());
  // Shorter values would blank ordinary words; no message quotes a secret anyway: this is a second line of defence.
  return [...new Set(out)].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
}

function redact(results: CheckResult[], secrets: readonly string[]): CheckResult[] {
  return results.map((r) => ({ ...r, detail: secrets.reduce((d, s) => d.split(s).join('[redacted]'), r.detail) }));
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
