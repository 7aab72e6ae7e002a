/**
 * `hoop gateway check`, run as an operator runs it, against a real stack (the run's embedded PostgreSQL, the dev
 * identity provider, a running gateway's state database and master key): every check passes on a good
 * configuration; a closed target port, an unreachable or refusing database, a wrong master key and an invalid
 * configuration each fail their own line with exit 1; pending migrations are reported and not run; and no
 * password or key ever appears in the output, failures included.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshDatabase } from '../helpers/pg.js';
import { runHoop, startStack, type RunResult, type Stack } from '../helpers/stack.js';

interface Check { check: string; ok: boolean; detail: string }

const SHOP_PW = `target-pw-${randomBytes(9).toString('hex')}`;
const WRONG_DB_PW = `wrong-db-pw-${randomBytes(9).toString('hex')}`;
let stack: Stack;
let config: string;
let masterKey: string;
let pgPort: string;
/** Every secret the runs below could leak. */
let secrets: string[];

beforeAll(async () => {
  stack = await startStack();
  const dataDir = join(stack.tmp, 'gateway');
  masterKey = (await readFile(join(dataDir, 'master.key'), 'utf8')).trim(); // made by the stack's gateway
  pgPort = new URL(stack.shopAdminUrl).port;
  secrets = [SHOP_PW, WRONG_DB_PW, masterKey, decodeURIComponent(new URL(stack.stateUrl).password)];
  config = await writeConfig('gateway.yaml', pgPort);
});

afterAll(async () => {
  await stack?.close();
});

/** The stack's gateway configuration, as an operator would write it: secrets by reference; TLS on. */
async function writeConfig(name: string, targetPort: string, extra = ''): Promise<string> {
  const file = join(stack.tmp, name);
  await writeFile(file, `
listen: 127.0.0.1:0
data_dir: ${JSON.stringify(join(stack.tmp, 'gateway'))}
tls: { cert_file: ${JSON.stringify(inject('tlsCertFile'))}, key_file: ${JSON.stringify(inject('tlsKeyFile'))} }
identity:
  issuer: ${stack.idp.issuer}
  audience: hoop
  allow_insecure_http: true
  workload_issuers:
    - issuer: ${stack.idp.issuer}
      audience: hoop
      allow: { sub: [ci-bot] }
      groups: [ci]
connections:
  - name: shop
    type: postgres
    host: 127.0.0.1
    port: ${targetPort}
    database: shop
    user: hoop
    password: \${env:SHOP_PW}
    tls: { mode: disable }
    access: { groups: [engineers] }
${extra}`);
  return file;
}

/** `hoop gateway check`, with the database URL in HOOP_DATABASE_URL, as `hoop gateway start` would read it. */
async function check(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const r = await runHoop(['gateway', 'check', ...args], { env: { SHOP_PW, HOOP_DATABASE_URL: stack.stateUrl, ...env } });
  for (const s of secrets) {
    expect(r.stdout, 'a secret in stdout').not.toContain(s);
    expect(r.stderr, 'a secret in stderr').not.toContain(s);
  }
  return r;
}

async function checkJson(args: string[], env: Record<string, string> = {}): Promise<{ code: number; checks: Check[] }> {
  const r = await check([...args, '--json'], env);
  return { code: r.code, checks: JSON.parse(r.stdout) as Check[] };
}

const byName = (checks: Check[], name: string): Check => {
  const c = checks.find((x) => x.check === name);
  expect(c, `no ${name} check in ${JSON.stringify(checks)}`).toBeDefined();
  return c!;
};

describe('hoop gateway check', () => {
  it('passes every check on a good configuration: one line each, exit 0', async () => {
    const r = await check(['--config', config]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual([
      'ok   config', 'ok   tls', 'ok   database', 'ok   migrations', 'ok   master key', 'ok   identity provider',
      'ok   workload issuer', 'ok   connection shop', 'all 8 checks passed',
    ]);
    expect(r.stdout).toContain(`ok   config: valid: ${config} (1 connection)\n`);
    expect(r.stdout).toContain('ok   migrations: schema current');
    expect(r.stdout).toContain(`ok   master key: ${join(stack.tmp, 'gateway', 'master.key')} opens the signing key sealed in the database\n`);
    expect(r.stdout).toContain(`ok   connection shop: 127.0.0.1:${pgPort} accepts TCP connections (no login attempted)\n`);
    // the test certificate is valid for two days: usable, with start-up's warning
    expect(r.stdout).toMatch(/ok {3}tls: .* and its key are usable; warning: the certificate in tls\.cert_file expires at /);
    expect(r.stderr).toBe('');
  });

  it('--json prints an array of {check, ok, detail}', async () => {
    const { code, checks } = await checkJson(['--config', config]);
    expect(code).toBe(0);
    expect(checks.every((c) => Object.keys(c).join() === 'check,ok,detail' && c.ok)).toBe(true);
    expect(byName(checks, 'identity provider').detail).toMatch(new RegExp(`^${stack.idp.issuer}: discovery and \\d+ signing keys? at http`));
  });

  it('fails the line of a target whose port is closed, with exit 1, and goes on with the others', async () => {
    const closed = await closedPort();
    const { code, checks } = await checkJson(['--config', await writeConfig('closed-target.yaml', String(closed))]);
    expect(code).toBe(1);
    expect(byName(checks, 'connection shop')).toEqual({ check: 'connection shop', ok: false, detail: `127.0.0.1:${closed}: connection refused` });
    expect(checks.filter((c) => !c.ok)).toHaveLength(1);
    const text = await check(['--config', await writeConfig('closed-target.yaml', String(closed))]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`FAIL connection shop: 127.0.0.1:${closed}: connection refused\n`);
    expect(text.stdout).toMatch(/\n1 of 8 checks failed\n$/);
  });

  it('fails the database line for a database_url nobody answers at, or that refuses the password, never printing it', async () => {
    const closed = await closedPort();
    const gone = await checkJson(['--config', config], { HOOP_DATABASE_URL: `postgres://hoop:${WRONG_DB_PW}@127.0.0.1:${closed}/hoop` });
    expect(gone.code).toBe(1);
    expect(byName(gone.checks, 'database')).toMatchObject({ ok: false, detail: expect.stringContaining(`cannot connect to the gateway's database at 127.0.0.1:${closed} (database_url)`) as string });
    expect(gone.checks.map((c) => c.check)).not.toContain('migrations');
    expect(byName(gone.checks, 'master key')).toMatchObject({ ok: true, detail: expect.stringContaining('not checked (the database cannot be reached)') as string });

    const wrong = new URL(stack.stateUrl);
    wrong.password = WRONG_DB_PW;
    const refused = await checkJson(['--config', config], { HOOP_DATABASE_URL: wrong.toString() });
    expect(refused.code).toBe(1);
    expect(byName(refused.checks, 'database')).toMatchObject({ ok: false, detail: expect.stringMatching(/password authentication failed.*check the user name and password in database_url/) as string });
  });

  it('fails the master key line when HOOP_MASTER_KEY is not the key the database\'s keys are sealed with', async () => {
    const other = randomBytes(32).toString('base64');
    secrets.push(other);
    const { code, checks } = await checkJson(['--config', config], { HOOP_MASTER_KEY: other });
    expect(code).toBe(1);
    expect(byName(checks, 'master key')).toMatchObject({ ok: false, detail: expect.stringMatching(/^HOOP_MASTER_KEY cannot open 1 of the 1 signing keys sealed in the database/) as string });
    const right = await checkJson(['--config', config], { HOOP_MASTER_KEY: masterKey });
    expect(byName(right.checks, 'master key')).toEqual({ check: 'master key', ok: true, detail: 'HOOP_MASTER_KEY opens the signing key sealed in the database' });
  });

  it('reports pending migrations on a new database and runs none of them', async () => {
    const empty = await freshDatabase('check_empty');
    try {
      const { code, checks } = await checkJson(['--config', config], { HOOP_DATABASE_URL: empty.url });
      expect(code, JSON.stringify(checks)).toBe(0);
      expect(byName(checks, 'migrations').detail).toMatch(/^(\d+) of \1 pending \(1 initial, .*\): `hoop gateway start` applies them; this check does not$/);
      expect(byName(checks, 'master key').detail).toContain('the database holds no sealed keys yet');
      const c = new pg.Client({ connectionString: empty.url });
      await c.connect();
      const tables = await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
      await c.end();
      expect(tables.rows[0].n).toBe(0);
    } finally {
      await empty.drop();
    }
  });

  it('fails on an invalid configuration with the loader\'s message, which quotes no secret, and checks nothing more', async () => {
    const bad = await writeConfig('bad.yaml', 'not-a-port', `  - name: inline\n    type: postgres\n    host: 127.0.0.1\n    port: 1\n    database: x\n    user: x\n    password: ${SHOP_PW}\n    access: { groups: [x] }\n`);
    const { code, checks } = await checkJson(['--config', bad]);
    expect(code).toBe(1);
    expect(checks).toEqual([{ check: 'config', ok: false, detail: expect.stringMatching(/^invalid gateway configuration \(.*bad\.yaml\), 1 problem: connections\[0\]\.port: expected an integer/) as string }]);
    const missing = await check(['--config', join(stack.tmp, 'no-such.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^FAIL config: cannot read the gateway config file .*no-such\.yaml \(ENOENT\)/);
  });

  it('a bad flag is a usage error (exit 2)', async () => {
    expect((await runHoop(['gateway', 'check', '--nope'])).code).toBe(2);
  });
});

/** A port nothing listens on (just freed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
