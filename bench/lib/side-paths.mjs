// Reference paths beside hoop's: pgbouncer (when installed) and two plain Node.js relays (--reference).
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { ROOT } from './build.mjs';
import { ROLE, TARGET_DB } from './names.mjs';
import { freePort, log, run, sleep } from './util.mjs';

/** Two plain Node.js relays in front of the target (bench/reference-relay.mjs): the `relay` reference path. */
export async function startReferenceRelays(stack) {
  const script = join(ROOT, 'bench', 'reference-relay.mjs');
  const inner = await freePort();
  const outer = await freePort();
  for (const [listen, target] of [[inner, stack.pgPort], [outer, inner]]) {
    const child = spawn(process.execPath, [script, String(listen), String(target)], { stdio: 'ignore' });
    let gone;
    child.once('exit', (c) => (gone = c ?? 'signal'));
    stack.cleanups.push(['reference relay', () => {
      if (gone === undefined) child.kill('SIGTERM');
    }]);
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = new pg.Client({ ...stack.direct, port: outer });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (e) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`the reference relays did not answer: ${e.message}`, { cause: e });
      await sleep(100);
    }
  }
  stack.ports.relay = outer;
}

/** pgbouncer in transaction mode in front of the target, when it is installed (a reference column only). */
export async function startPgbouncer(stack) {
  const port = await freePort();
  const dir = join(stack.tmp, 'pgbouncer');
  await mkdir(dir, { recursive: true, mode: 0o777 });
  await writeFile(join(dir, 'userlist.txt'), `"${ROLE}" "${stack.password}"\n`, { mode: 0o644 });
  await writeFile(join(dir, 'pgbouncer.ini'), `[databases]
${TARGET_DB} = host=127.0.0.1 port=${stack.pgPort} dbname=${TARGET_DB} user=${ROLE} password=${stack.password}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 40
logfile = ${join(dir, 'pgbouncer.log')}
pidfile = ${join(dir, 'pgbouncer.pid')}
`, { mode: 0o644 });
  // pgbouncer refuses to run as root: run it as the postgres OS user the embedded server uses.
  let ids = {};
  if (process.getuid?.() === 0) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    ids = { uid, gid };
  }
  const child = spawn('pgbouncer', [join(dir, 'pgbouncer.ini')], { stdio: 'ignore', ...ids });
  let gone;
  child.once('exit', (c) => (gone = c ?? 'signal'));
  stack.cleanups.push(['pgbouncer', () => {
    if (gone === undefined) child.kill('SIGTERM');
  }]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: ROLE, database: TARGET_DB });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (e) {
      await c.end().catch(() => undefined);
      if (gone !== undefined || Date.now() > deadline) {
        log(`pgbouncer did not start (${e.message}); leaving its column out`);
        return;
      }
      await sleep(200);
    }
  }
  stack.ports.pgbouncer = port;
  log(`pgbouncer on ${port}`);
}
