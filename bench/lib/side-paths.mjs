// Reference paths beside hoop's: pgbouncer (when installed) and two plain Node.js relays (--reference).
import { spawn } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
  // pgbouncer refuses to run as root: then it runs as the postgres OS user the embedded server uses, in a
  // directory of its own (not under the stack's, which that user cannot enter), owned by that user, mode 0700: its
  // files hold the target's password.
  let ids = {};
  if (process.getuid?.() === 0) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    ids = { uid, gid };
  }
  const dir = await mkdtemp(join(tmpdir(), 'hoop-bench-pgbouncer-'));
  stack.cleanups.push(['pgbouncer dir', () => rm(dir, { recursive: true, force: true })]);
  const files = {
    'userlist.txt': `"${ROLE}" "${stack.password}"\n`,
    'pgbouncer.ini': `[databases]
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
`,
  };
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(dir, name), text, { mode: 0o600 });
    if (ids.uid !== undefined) await chown(join(dir, name), ids.uid, ids.gid);
  }
  if (ids.uid !== undefined) await chown(dir, ids.uid, ids.gid);
  const child = spawn('pgbouncer', [join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'], ...ids });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-2000)));
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
        const said = (stderr || (await readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => ''))).trim().split('\n').slice(-3).join(' | ');
        log(`pgbouncer did not start (${e.message}${said ? `; it said: ${said}` : ''}); leaving its column out`);
        return;
      }
      await sleep(200);
    }
  }
  stack.ports.pgbouncer = port;
  log(`pgbouncer on ${port}`);
}
