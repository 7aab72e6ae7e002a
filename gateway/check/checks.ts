/**
 * The checks of `hoop gateway check`, one function each, built on the code `hoop gateway start` runs (its state
 * database connection, master key reading, certificate and identity-provider checks). None of them writes
 * anything, migrates anything or logs in anywhere. Each returns one {@link CheckResult}; failures are results,
 * not exceptions, and their details say why without a secret (start-up's own messages, which never hold one).
 */
import { access, constants, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { dirname, join } from 'node:path';
import { isHoopError, toHoopError } from '../../shared/errors.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Queryable } from '../store/db.js';
import { migrationStatus, newerSchemaError, type Migration } from '../store/migrate.js';
import { masterKeyFile, masterKeySource, missingMasterKeyError, readMasterKey } from '../crypto/master-key.js';
import { unseal } from '../crypto/sealed.js';
import { certificateIssues, issuerKeys } from '../startup-checks.js';
import { tcpProblem } from './tcp-probe.js';

export interface CheckResult {
  /** What was checked: `config`, `database`, `connection shop`… */
  check: string;
  ok: boolean;
  /** Why it failed, or what was found; one line, no secret. */
  detail: string;
}

const pass = (check: string, detail: string): CheckResult => ({ check, ok: true, detail });
const fail = (check: string, detail: string): CheckResult => ({ check, ok: false, detail });

/** A HoopError's message and hint on one line (config problems come one per line). */
export function oneLine(e: unknown): string {
  const err = toHoopError(e);
  const problems = err.details?.problems;
  // Each configuration problem says its own fix; the error's hint (fix each key "listed above") is for the list.
  if (Array.isArray(problems)) return `${err.message.split('\n')[0]} ${problems.join('; ')}`;
  const message = err.message.replace(/\s*\n\s*/g, '; ');
  return err.hint ? `${message} (hint: ${err.hint})` : message;
}

/** The served certificate and key: readable, usable together (as the HTTPS server needs them), and in date. */
export async function checkTls(tls: NonNullable<GatewayConfig['tls']>, publicUrl: string, now: Date, read: (p: string) => Promise<string>): Promise<CheckResult> {
  let cert: string;
  try {
    cert = await read(tls.cert_file);
    createSecureContext({ cert, key: await read(tls.key_file) });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why = code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' ? 'the key is not the certificate\'s' : typeof code === 'string' ? code : 'unusable';
    return fail('tls', `cannot use ${tls.cert_file} with ${tls.key_file} (${why})`);
  }
  const issues = certificateIssues(cert, publicUrl, now);
  const fatal = issues.filter((i) => i.kind === 'expired' || i.kind === 'not_yet_valid');
  if (fatal.length) return fail('tls', fatal.map((i) => i.message).join('; '));
  const warnings = issues.map((i) => `warning: ${i.message}`);
  return pass('tls', [`${tls.cert_file} and its key are usable`, ...warnings].join('; '));
}

/** The embedded PostgreSQL's data dir: check does not start the server, only looks where it would live. */
export async function checkEmbeddedDatabase(dataDir: string): Promise<CheckResult> {
  const dir = join(dataDir, 'postgres');
  const initialised = await stat(join(dir, 'PG_VERSION')).then(() => true, () => false);
  const writable = await writableProblem(initialised ? dir : dataDir);
  if (writable) return fail('database', `the embedded PostgreSQL needs ${initialised ? dir : dataDir}: ${writable}`);
  return pass('database', initialised
    ? `embedded PostgreSQL in ${dir} (not started by this check; database_url is checked by connecting)`
    : `embedded PostgreSQL: none yet, created in ${dir} at first start`);
}

/** The schema against this binary's migrations, without running any. Pending ones are what start applies. */
export async function checkMigrations(db: Queryable, migrations: readonly Migration[]): Promise<CheckResult> {
  try {
    const s = await migrationStatus(db, migrations);
    if (s.unknown.length) return fail('migrations', oneLine(newerSchemaError(s.unknown)));
    if (!s.pending.length) return pass('migrations', `schema current: all ${migrations.length} migrations applied`);
    const list = s.pending.map((m) => `${m.id} ${m.name}`).join(', ');
    return pass('migrations', `${s.pending.length} of ${migrations.length} pending (${list}): \`hoop gateway start\` applies them; this check does not`);
  } catch (e) {
    return fail('migrations', `cannot read the schema version: ${oneLine(e)}`);
  }
}

/**
 * The master key, read as start reads it (creating none), and tried on what the database keeps sealed with it:
 * the signing keys (target credentials come from the configuration, not the database). `db` is undefined when
 * the database cannot be looked at (embedded, or unreachable): then only the key itself is checked.
 */
export async function checkMasterKey(o: { configured: string | undefined; env: Readonly<Record<string, string | undefined>>; dataDir: string; db: Queryable | undefined; why?: string }): Promise<CheckResult> {
  const source = masterKeySource(o);
  let key: Buffer | undefined;
  try {
    key = await readMasterKey(o);
  } catch (e) {
    if (isHoopError(e)) return fail('master key', oneLine(e));
    const code = (e as { code?: unknown }).code;
    return fail('master key', `cannot read ${source} (${typeof code === 'string' ? code : 'unreadable'})`);
  }
  if (!o.db) {
    const notChecked = `the keys sealed in the database are not checked (${o.why ?? 'no database'})`;
    return pass('master key', key ? `${source} is a valid key; ${notChecked}` : `none yet: the gateway creates ${masterKeyFile(o.dataDir)} at first start; ${notChecked}`);
  }
  let sealed: { kid: string; private_jwk_encrypted: Buffer }[];
  try {
    const table = await o.db.query<{ present: boolean }>(`SELECT to_regclass('gateway_keys') IS NOT NULL AS present`);
    sealed = table.rows[0]?.present
      ? (await o.db.query<{ kid: string; private_jwk_encrypted: Buffer }>('SELECT kid, private_jwk_encrypted FROM gateway_keys WHERE private_jwk_encrypted IS NOT NULL ORDER BY created_at')).rows
      : [];
  } catch (e) {
    return fail('master key', `cannot read the sealed keys: ${oneLine(e)}`);
  }
  if (!key) {
    return sealed.length ? fail('master key', oneLine(missingMasterKeyError(o.dataDir))) : pass('master key', `none yet: the gateway creates ${masterKeyFile(o.dataDir)} at first start`);
  }
  if (!sealed.length) return pass('master key', `${source} is a valid key; the database holds no sealed keys yet`);
  const unopened = sealed.filter((s) => {
    try {
      unseal(s.private_jwk_encrypted, key, s.kid);
      return false;
    } catch {
      return true;
    }
  });
  if (unopened.length) {
    return fail('master key', `${source} cannot open ${unopened.length} of the ${sealed.length} signing keys sealed in the database (kid ${unopened.map((s) => s.kid).join(', ')}): it is not the key they were sealed with; every gateway instance sharing a database needs the same master key`);
  }
  return pass('master key', `${source} opens the ${sealed.length === 1 ? 'signing key' : `${sealed.length} signing keys`} sealed in the database`);
}

/** An identity provider: its discovery document and its key set, fetched as token verification fetches them. */
export async function checkIssuer(check: string, issuer: string, timeoutMs: number, doFetch: typeof fetch): Promise<CheckResult> {
  const r = await issuerKeys(issuer, timeoutMs, doFetch);
  return r.ok
    ? pass(check, `${issuer}: discovery and ${r.keys} signing key${r.keys === 1 ? '' : 's'} at ${r.jwksUri}`)
    : fail(check, `${issuer}: ${r.reason}`);
}

/** A target: a TCP connection opens (no login: check holds no grant, and a login would be a session). */
export async function checkTarget(c: GatewayConfig['connections'][number], timeoutMs: number): Promise<CheckResult> {
  const where = `${c.host}:${c.port}`;
  const why = await tcpProblem(c.host, c.port, timeoutMs);
  return why ? fail(`connection ${c.name}`, `${where}: ${why}`) : pass(`connection ${c.name}`, `${where} accepts TCP connections (no login attempted)`);
}

/** Why the gateway could not create or write `dir`, or null. */
async function writableProblem(dir: string): Promise<string | null> {
  let at = dir;
  for (;;) {
    const s = await stat(at).catch(() => undefined);
    if (s) {
      if (!s.isDirectory()) return `${at} is not a directory`;
      return access(at, constants.W_OK | constants.X_OK).then(() => null, () => `${at} is not writable by this user`);
    }
    const up = dirname(at);
    if (up === at) return `no part of ${dir} exists`;
    at = up;
  }
}
