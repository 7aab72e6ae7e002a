/**
 * The foundation's data path, end to end: `bin/hoop login` through the real IdP form, `bin/hoop connect`
 * starting the real agent, and real clients (pg, and psql — installed by .ci/run) through the agent's port to
 * the gateway and a real PostgreSQL.
 */
import { execFile, spawn } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { rawTunnel } from '../helpers/raw-tunnel.js';

const run = promisify(execFile);
let stack: Stack;
let alice: User;
let port: number;

beforeAll(async () => {
  stack = await startStack();
  alice = new User('alice', stack);
  const login = await alice.login();
  expect(login.code, login.stderr).toBe(0);
  expect(login.stdout).toContain('Logged in');
  expect(login.stdout).toContain('as alice');
  ({ port } = await alice.connect('shop'));
});

afterAll(async () => {
  await alice?.stopAgent();
  await stack?.close();
});

async function withClient<T>(fn: (c: pg.Client) => Promise<T>, config: Partial<pg.ClientConfig> = {}): Promise<T> {
  const c = tunnelClient(port, config);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Waits until the target shows `sql` running (seen from another session through the tunnel). */
async function waitForActive(sql: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const seen = await withClient((o) => o.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1`, [sql]));
    if (seen.rows[0].n > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${sql} never started`);
}

/** Sends a CancelRequest for `c`'s session (the key the gateway gave it) on a new connection to `port`. */
async function sendCancel(port: number, c: pg.Client): Promise<void> {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
  const cancel = Buffer.alloc(16);
  cancel.writeInt32BE(16, 0);
  cancel.writeInt32BE(80877102, 4); // the CancelRequest code
  cancel.writeInt32BE(processID, 8);
  cancel.writeInt32BE(secretKey, 12);
  await new Promise<void>((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => s.end(cancel));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

describe('PostgreSQL through the agent and gateway', () => {
  it('listens on loopback only and never needs the database password', async () => {
    const status = await alice.hoop(['agent', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const tunnels = (JSON.parse(status.stdout) as { tunnels: { host: string; port: number }[] }).tunnels;
    expect(tunnels).toEqual([expect.objectContaining({ host: '127.0.0.1', port })]);
    // the client sends no password at all (pg would fail with "password must be a string" if asked for one)
    await withClient(async (c) => expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]));
  });

  it('runs the simple query protocol, including multi-statement strings', async () => {
    await withClient(async (c) => {
      const r = await c.query('SELECT name, email FROM customers ORDER BY id LIMIT 3');
      expect(r.rows).toHaveLength(3);
      expect(r.rows[0].email).toMatch(/@example\.com$/);
      const multi = (await c.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as pg.QueryResult[];
      expect(multi.map((x) => x.rows[0])).toEqual([{ a: 1 }, { b: 2 }]);
    });
  });

  it('runs the extended protocol with parameters and named prepared statements', async () => {
    await withClient(async (c) => {
      const r = await c.query('SELECT $1::int + $2::int AS sum, $3::text AS t', [40, 2, 'héllo']);
      expect(r.rows).toEqual([{ sum: 42, t: 'héllo' }]);
      for (const id of [1, 2, 3]) {
        const q = await c.query({ name: 'by-id', text: 'SELECT id FROM customers WHERE id = $1', values: [id] });
        expect(q.rows).toEqual([{ id }]);
      }
      // binary result format
      const bin = await c.query({ text: 'SELECT 7::int4 AS n', binary: true } as pg.QueryConfig);
      expect(Buffer.isBuffer(bin.rows[0].n) ? (bin.rows[0].n as Buffer).readInt32BE(0) : bin.rows[0].n).toBe(7);
    });
  });

  it('reports errors from the target and keeps the session usable', async () => {
    await withClient(async (c) => {
      await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
      await expect(c.query('SELECT $1::int', ['not a number'])).rejects.toMatchObject({ code: '22P02' });
      expect((await c.query('SELECT 2 AS ok')).rows).toEqual([{ ok: 2 }]);
    });
  });

  it('relays COPY in and COPY out', async () => {
    await withClient(async (c) => {
      await c.query('CREATE TEMP TABLE t_copy (id int, label text)');
      const lines = Array.from({ length: 5000 }, (_, i) => `${i}\tlabel ${i}\n`).join('');
      await pipeline(Readable.from([lines]), c.query(copyFrom('COPY t_copy FROM STDIN')));
      expect((await c.query('SELECT count(*)::int AS n, sum(id)::int AS s FROM t_copy')).rows).toEqual([{ n: 5000, s: (4999 * 5000) / 2 }]);
      let out = '';
      await pipeline(c.query(copyTo('COPY (SELECT id, label FROM t_copy ORDER BY id) TO STDOUT')), new Writable({
        write(chunk: Buffer, _e, cb) {
          out += chunk.toString();
          cb();
        },
      }));
      expect(out).toBe(lines);
    });
  });

  it('streams a 100,000-row result', async () => {
    await withClient(async (c) => {
      const r = await c.query('SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 100000) g');
      expect(r.rowCount).toBe(100_000);
      expect(r.rows[99_999]).toEqual({ n: 100_000, h: expect.stringMatching(/^[0-9a-f]{32}$/) });
    });
  });

  it('relays notices and notifications', async () => {
    await withClient(async (c) => {
      const notices: string[] = [];
      c.on('notice', (n) => notices.push(n.message ?? ''));
      await c.query(`DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$`);
      expect(notices).toContain('hello from the server');
      const got = new Promise<string | undefined>((resolve) => c.once('notification', (m) => resolve(m.payload)));
      await c.query('LISTEN hoop_test');
      await c.query(`NOTIFY hoop_test, 'ping'`);
      expect(await got).toBe('ping');
    });
  });

  it('cancels a running statement with a CancelRequest sent through the tunnel', async () => {
    await withClient(async (c) => {
      const running = c.query('SELECT pg_sleep(30)');
      await waitForActive('SELECT pg_sleep(30)');
      await sendCancel(port, c);
      await expect(running).rejects.toMatchObject({ code: '57014' });
      expect((await c.query('SELECT 3 AS after')).rows).toEqual([{ after: 3 }]);
    });
  });

  it('cancels a statement when the CancelRequest reaches another gateway instance than the session', async () => {
    // Two instances on one database, as behind a load balancer: the session on the first, the cancel on the second.
    const second = await stack.startInstance();
    const { token } = await alice.grant({ connection: 'shop' });
    const viaFirst = await rawTunnel(stack.gatewayUrl, token, 'shop');
    const viaSecond = await rawTunnel(second.url, token, 'shop');
    const c = tunnelClient(viaFirst.port);
    try {
      await c.connect();
      const running = c.query('SELECT pg_sleep(29)');
      await waitForActive('SELECT pg_sleep(29)');
      await sendCancel(viaSecond.port, c);
      await expect(running).rejects.toMatchObject({ code: '57014' });
      expect((await c.query('SELECT 4 AS after')).rows).toEqual([{ after: 4 }]);
    } finally {
      await c.end().catch(() => undefined);
      await viaFirst.close();
      await viaSecond.close();
    }
  });

  it('works with psql, including Ctrl-C cancelling pg_sleep', async () => {
    const url = `postgresql://alice@127.0.0.1:${port}/shop?sslmode=disable`;
    const { stdout } = await run('psql', [url, '-XAtc', 'SELECT count(*) FROM customers']);
    expect(stdout.trim()).toBe('50');
    // psql sends a CancelRequest on SIGINT, as on Ctrl-C.
    const child = spawn('psql', [url, '-X', '-c', 'SELECT pg_sleep(30)'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await waitForActive('SELECT pg_sleep(30)'); // SIGINT before psql sent the query would just end psql
    const started = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toContain('canceling statement due to user request');
    expect(code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('records the session and its statements, shown by `hoop sessions show`', async () => {
    await withClient(async (c) => {
      await c.query('SELECT id FROM customers WHERE id = $1', [7]);
    }, { application_name: 'e2e-recording' });
    let session: { id: string; client_application: string | null; statement_count: number; ended_at: string | null } | undefined;
    for (let i = 0; i < 50 && !session?.ended_at; i++) {
      const list = await alice.hoop(['sessions', '--json']);
      expect(list.code, list.stderr).toBe(0);
      session = (JSON.parse(list.stdout) as { sessions: NonNullable<typeof session>[] }).sessions.find((s) => s.client_application === 'e2e-recording');
      if (!session?.ended_at) await new Promise((r) => setTimeout(r, 100));
    }
    expect(session).toMatchObject({ client_application: 'e2e-recording', statement_count: 1 });
    const show = await alice.hoop(['sessions', 'show', session!.id]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('SELECT id FROM customers WHERE id = $1');
    expect(show.stdout).toContain('["7"]');
    expect(show.stdout).toContain('SELECT 1');
    expect(show.stdout).toContain('alice');
    const json = JSON.parse((await alice.hoop(['sessions', 'show', session!.id, '--json'])).stdout) as {
      statements: { text: string; parameters: string[]; rows: number; command_tag: string; protocol: string; duration_ms: number }[];
    };
    expect(json.statements[0]).toMatchObject({ parameters: ['7'], rows: 1, command_tag: 'SELECT 1', protocol: 'extended' });
    expect(json.statements[0]!.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('records a failed statement with its SQLSTATE', async () => {
    await withClient(async (c) => {
      await c.query('SELECT * FROM missing_for_the_record').catch(() => undefined);
    }, { application_name: 'e2e-error' });
    let text = '';
    for (let i = 0; i < 50 && !text.includes('42P01'); i++) {
      const list = JSON.parse((await alice.hoop(['sessions', '--json'])).stdout) as { sessions: { id: string; client_application: string }[] };
      const s = list.sessions.find((x) => x.client_application === 'e2e-error');
      if (s) text = (await alice.hoop(['sessions', 'show', s.id])).stdout;
      if (!text.includes('42P01')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).toContain('ERROR 42P01');
    expect(text).toContain('relation "missing_for_the_record" does not exist');
  });
});
