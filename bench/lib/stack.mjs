// The whole stack for the benchmark: one embedded PostgreSQL (state, target and scratch databases), the dev IdP
// in-process, the gateway as its own process (so its RSS can be read), and the agent started by the real CLI.
/* global fetch, AbortSignal */
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URLSearchParams } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ROOT, dist, hoopBin } from './build.mjs';
import { CONN, ROLE, TARGET_DB } from './names.mjs';
import { startPgbouncer, startReferenceRelays } from './side-paths.mjs';
import { freePort, log, onPath, run, sleep, withTimeout } from './util.mjs';

export { CONN, ROLE, TARGET_DB };

const RESULTS = join(ROOT, 'bench', 'results');

/** What the `policy` connection masks (guardrails on top); the bulk table's `h` column is masked for COPY. */
export const POLICY_MASKING = {
  'public.pgbench_accounts.filler': 'redact',
  'public.pgbench_accounts.abalance': 'redact',
  'public.bench_bulk.h': 'partial',
};
export const POLICY_GUARDRAILS = ['ddl', 'truncate', 'delete_without_where', 'update_without_where', 'copy_program', 'grant'];

/**
 * Starts everything. `o`: { scale, bulkRows, maxConnections, profileDir?, withPgbouncer }.
 * Returns the stack; `close()` undoes whatever was started, also after a partial start (see `cleanups`).
 */
export async function startStack(o) {
  const cleanups = [];
  const stack = { cleanups, close: () => closeAll(cleanups) };
  try {
    await build(stack, o);
    return stack;
  } catch (e) {
    await stack.close();
    throw e;
  }
}

async function closeAll(cleanups) {
  while (cleanups.length) {
    const [what, fn] = cleanups.pop();
    try {
      await withTimeout(Promise.resolve().then(fn), 30_000, `cleanup: ${what}`);
    } catch (e) {
      log(`cleanup of ${what} failed: ${e.message}`);
    }
  }
}

async function build(stack, o) {
  const { startEmbeddedPostgres } = await import(dist('gateway/store/embedded.js'));
  const { createDatabaseIfMissing, databaseUrl } = await import(dist('gateway/store/db.js'));
  const { silentLogger } = await import(dist('shared/log.js'));

  stack.tmp = await mkdtemp(join(tmpdir(), 'hoop-bench-'));
  stack.cleanups.push(['temp dir', () => rm(stack.tmp, { recursive: true, force: true })]);
  // Runs after everything else stopped: the logs outlive the temp dir (bench/results/*.log, git-ignored).
  stack.cleanups.push(['keeping the logs', async () => {
    await mkdir(RESULTS, { recursive: true });
    for (const [from, to] of [[join(stack.tmp, 'gateway.log'), 'gateway.log'], [join(stack.tmp, 'cli', 'agent.log'), 'agent.log']]) {
      await copyFile(from, join(RESULTS, to)).catch(() => undefined);
    }
  }]);

  // PostgreSQL
  log('starting the embedded PostgreSQL');
  const superPw = randomBytes(18).toString('base64url');
  const server = await startEmbeddedPostgres({
    dataDir: join(stack.tmp, 'pg'),
    logger: silentLogger,
    password: superPw,
    settings: { max_connections: String(o.maxConnections), shared_buffers: '256MB', max_wal_size: '1GB' },
  });
  stack.cleanups.push(['embedded PostgreSQL', () => server.stop()]);
  stack.pgPort = server.port;
  stack.superUrl = server.url;
  stack.password = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`SET password_encryption = 'scram-sha-256'`);
    await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD ${pg.escapeLiteral(stack.password)}`);
  } finally {
    await admin.end();
  }
  for (const db of [TARGET_DB, 'hoop_state', 'bench_audit']) await createDatabaseIfMissing(server.url, db);
  const admin2 = new pg.Client({ connectionString: server.url });
  await admin2.connect();
  await admin2.query(`ALTER DATABASE ${TARGET_DB} OWNER TO ${ROLE}`);
  await admin2.end();
  stack.stateUrl = databaseUrl(server.url, 'hoop_state');
  stack.auditUrl = databaseUrl(server.url, 'bench_audit');
  stack.directEnv = { ...baseEnv(), PGPASSWORD: stack.password, PGSSLMODE: 'disable' };
  stack.direct = { host: '127.0.0.1', port: server.port, user: ROLE, password: stack.password, database: TARGET_DB };

  await initTargetData(stack, o);

  // Identity provider, in this process
  const { createDevIdp } = await import(dist('gateway/dev-idp/provider.js'));
  const { DEMO_CLIENTS, DEMO_USERS } = await import(dist('gateway/dev-idp/users.js'));
  const idp = await createDevIdp({
    port: 0, audience: 'hoop', users: DEMO_USERS, logger: silentLogger, accessTokenTtlSeconds: 6 * 3600,
    clients: [...DEMO_CLIENTS, { kind: 'service', clientId: 'bench-approver', groups: ['dba'] }],
  });
  stack.cleanups.push(['dev IdP', () => idp.close()]);
  stack.idp = idp;
  stack.token = await clientCredentials(idp, 'ci-bot');
  stack.approverToken = await clientCredentials(idp, 'bench-approver');

  await startGatewayProcess(stack, o);
  await startAgent(stack, o);
  if (o.withPgbouncer) await startPgbouncer(stack);
  if (o.reference) await startReferenceRelays(stack);
}

function baseEnv() {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' };
}

async function initTargetData(stack, o) {
  const t0 = performance.now();
  if (onPath('pgbench')) {
    log(`pgbench -i -s ${o.scale}`);
    const r = await run('pgbench', ['-i', '-q', '-s', String(o.scale), '-h', '127.0.0.1', '-p', String(stack.pgPort), '-U', ROLE, TARGET_DB],
      { env: stack.directEnv, timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`pgbench -i failed (${r.code}): ${r.stderr.slice(-2000)}`);
  } else {
    log(`pgbench is not on PATH: creating pgbench_accounts (scale ${o.scale}) with SQL`);
  }
  const c = new pg.Client(stack.direct);
  await c.connect();
  try {
    if (!onPath('pgbench')) {
      await c.query(`CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84))`);
      await c.query(`INSERT INTO pgbench_accounts SELECT g, 1 + (g - 1) / 100000, 0, '' FROM generate_series(1, $1::int) g`, [o.scale * 100_000]);
    }
    log(`creating bench_bulk (${o.bulkRows} rows)`);
    await c.query(`CREATE TABLE bench_bulk AS SELECT g AS id, md5(g::text) AS h, repeat('x', 60) AS pad FROM generate_series(1, $1::int) g`, [o.bulkRows]);
    await c.query('CREATE TABLE bench_approval (id int PRIMARY KEY, note text)');
    await c.query('VACUUM ANALYZE');
  } finally {
    await c.end();
  }
  log(`target data ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function clientCredentials(idp, clientId) {
  const secret = idp.clientSecrets.get(clientId);
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: idp.resource }).toString(),
  });
  const body = await res.json();
  if (!res.ok || !body.access_token) throw new Error(`client credentials for ${clientId} failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

function connectionYaml(name, stack, extra = '') {
  return `
  - name: ${name}
    type: postgres
    host: 127.0.0.1
    port: ${stack.pgPort}
    database: ${TARGET_DB}
    user: ${ROLE}
    password: \${env:BENCH_PW}
    tls: { mode: disable }
    access: { groups: [ci-deployers], max_duration: 8h }
${extra}`;
}

function gatewayYaml(stack, port, metricsPort) {
  const masking = Object.entries(POLICY_MASKING).map(([k, v]) => `${k}: ${v}`).join(', ');
  return `listen: 127.0.0.1:${port}
metrics: { listen: 127.0.0.1:${metricsPort} }
data_dir: ${JSON.stringify(join(stack.tmp, 'gateway'))}
database_url: ${JSON.stringify(stack.stateUrl)}
log: { level: warn }
identity:
  issuer: ${stack.idp.issuer}
  audience: hoop
  allow_insecure_http: true
roles: { admins: [admins], auditors: [auditors] }
grants: { default_ttl: 4h, max_ttl: 8h }
connections:${connectionYaml(CONN.passthrough, stack)}${connectionYaml(CONN.policy, stack, `    guardrails: { block: [${POLICY_GUARDRAILS.join(', ')}] }
    masking: { columns: { ${masking} } }
`)}${connectionYaml(CONN.revoke, stack)}${connectionYaml(CONN.approval, stack, `    approvals:
      - name: bench-deletes
        match: { statements: [delete], tables: [public.bench_approval] }
        approvers: [dba]
        timeout: 1m
`)}`;
}

async function startGatewayProcess(stack, o) {
  const port = await freePort();
  const metricsPort = await freePort();
  const yamlPath = join(stack.tmp, 'gateway.yaml');
  await writeFile(yamlPath, gatewayYaml(stack, port, metricsPort));
  stack.gatewayUrl = `http://127.0.0.1:${port}`;
  stack.metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  stack.gatewayLog = join(stack.tmp, 'gateway.log');
  const nodeArgs = [...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(o.profileDir, 'gateway')}`] : []), ...(o.gatewayNodeFlags ?? [])];
  if (o.profileDir) await mkdir(join(o.profileDir, 'gateway'), { recursive: true });
  const fd = openSync(stack.gatewayLog, 'a');
  log(`starting the gateway on ${stack.gatewayUrl}`);
  const child = spawn(process.execPath, [...nodeArgs, hoopBin(), 'gateway', 'start', '--config', yamlPath], {
    env: { ...baseEnv(), BENCH_PW: stack.password, HOOP_LOG_LEVEL: 'warn' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  let gone;
  void exited.then((v) => (gone = v));
  stack.gatewayPid = child.pid;
  stack.cleanups.push(['gateway', async () => {
    if (gone !== undefined) return;
    child.kill('SIGTERM');
    const r = await Promise.race([exited, sleep(20_000).then(() => 'timeout')]);
    if (r === 'timeout') {
      log('the gateway did not stop within 20 s of SIGTERM; killing it');
      child.kill('SIGKILL');
      await exited;
    }
  }]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone !== undefined) throw new Error(`the gateway exited (${gone}) while starting:\n${tail(stack.gatewayLog)}`);
    try {
      const res = await fetch(`${stack.gatewayUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the gateway did not answer /healthz within 60 s:\n${tail(stack.gatewayLog)}`);
    await sleep(100);
  }
}

export function tail(path, lines = 30) {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function startAgent(stack, o) {
  stack.configDir = join(stack.tmp, 'cli');
  stack.cliEnv = {
    ...baseEnv(), HOOP_CONFIG_DIR: stack.configDir, HOOP_TOKEN: stack.token, HOOP_GATEWAY_URL: stack.gatewayUrl, HOOP_LOG_LEVEL: 'warn',
  };
  stack.hoop = (args, timeoutMs = 60_000) => run(process.execPath, [hoopBin(), ...args], { env: stack.cliEnv, timeoutMs });
  if (o.profileDir) await startProfiledAgent(stack, join(o.profileDir, 'agent'));
  stack.cleanups.push(['agent', async () => {
    const r = await stack.hoop(['agent', 'stop'], 30_000);
    if (r.code !== 0 && stack.agentPid) {
      try {
        process.kill(stack.agentPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }]);
  stack.connect = async (name) => {
    const r = await stack.hoop(['connect', name, '--detach', '--port', '0', '--json']);
    if (r.code !== 0) throw new Error(`hoop connect ${name} failed (${r.code}): ${r.stderr.trim()}\nagent log:\n${tail(join(stack.configDir, 'agent.log'))}`);
    const t = JSON.parse(r.stdout);
    return { port: t.port, grantId: t.grant_id };
  };
  log('starting the agent: hoop connect passthrough / policy --detach');
  stack.ports = {};
  stack.ports.passthrough = (await stack.connect(CONN.passthrough)).port;
  stack.ports.policy = (await stack.connect(CONN.policy)).port;
  const st = await stack.hoop(['agent', 'status', '--json']);
  if (st.code !== 0) throw new Error(`hoop agent status failed: ${st.stderr}`);
  stack.agentPid = JSON.parse(st.stdout).pid;
  stack.agentLog = join(stack.configDir, 'agent.log');
}

/**
 * Profiling only: the daemon `hoop connect` would spawn (`hoop agent run`, detached, with the agent's Node.js
 * flags), started here under --cpu-prof (Node refuses it in NODE_OPTIONS); `hoop connect` then finds it answering
 * and uses it.
 */
async function startProfiledAgent(stack, dir) {
  const { AGENT_NODE_FLAGS } = await import(dist('shared/agent/spawn.js'));
  await mkdir(dir, { recursive: true });
  await mkdir(stack.configDir, { recursive: true, mode: 0o700 });
  const fd = openSync(join(stack.configDir, 'agent.log'), 'a', 0o600);
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...AGENT_NODE_FLAGS, hoopBin(), 'agent', 'run'], {
    env: stack.cliEnv, detached: true, stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  const deadline = Date.now() + 15_000;
  while ((await stack.hoop(['agent', 'status', '--json'], 10_000)).code !== 0) {
    if (Date.now() > deadline) throw new Error(`the profiled agent did not answer:\n${tail(join(stack.configDir, 'agent.log'))}`);
    await sleep(100);
  }
}
