/**
 * The gateway's side toward the target (SCRAM, md5 and cleartext logins; TLS verify-full against the test
 * server's CA) and its robustness toward clients (malformed bytes get a protocol error; the gateway goes on).
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { pgAdminUrl } from '../helpers/pg.js';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';

let stack: Stack;
let alice: User;
const passwords = { md5: randomBytes(12).toString('hex'), clear: randomBytes(12).toString('hex'), tls: randomBytes(12).toString('hex') };

function connectionYaml(name: string, user: string, password: string, database: string, port: string, tls: string): string {
  return `
  - name: ${name}
    type: postgres
    host: 127.0.0.1
    port: ${port}
    database: ${database}
    user: ${user}
    password: "${password}"
    tls: ${tls}
    access: { groups: [engineers] }`;
}

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: pgAdminUrl() });
  await admin.connect();
  try {
    // Roles are cluster-wide: make them idempotently (pg_hba.conf sends each to its method: see global-setup).
    await admin.query(`SET password_encryption = 'md5'`);
    await admin.query(`DROP ROLE IF EXISTS hoop_md5_user`).catch(() => undefined);
    await admin.query(`CREATE ROLE hoop_md5_user LOGIN PASSWORD ${pg.escapeLiteral(passwords.md5)}`);
    await admin.query(`SET password_encryption = 'scram-sha-256'`);
    await admin.query(`DROP ROLE IF EXISTS hoop_clear_user`).catch(() => undefined);
    await admin.query(`CREATE ROLE hoop_clear_user LOGIN PASSWORD ${pg.escapeLiteral(passwords.clear)}`);
    await admin.query(`DROP ROLE IF EXISTS hoop_tls_user`).catch(() => undefined);
    await admin.query(`CREATE ROLE hoop_tls_user LOGIN PASSWORD ${pg.escapeLiteral(passwords.tls)}`);
  } finally {
    await admin.end();
  }
  const port = new URL(pgAdminUrl()).port;
  const ca = inject('pgTlsCaFile');
  stack = await startStack({
    extraConnections: [
      connectionYaml('md5', 'hoop_md5_user', passwords.md5, 'postgres', port, '{ mode: disable }'),
      connectionYaml('cleartext', 'hoop_clear_user', passwords.clear, 'postgres', port, '{ mode: disable }'),
      connectionYaml('tls', 'hoop_tls_user', passwords.tls, 'postgres', port, `{ mode: verify-full, ca_file: ${JSON.stringify(ca)} }`),
      // localhost resolves, but the certificate is checked against the name: a wrong CA must fail
      connectionYaml('tls-bad-ca', 'hoop_tls_user', passwords.tls, 'postgres', port, `{ mode: verify-full, ca_file: ${JSON.stringify(ca.replace('ca.pem', 'server.pem'))} }`),
      connectionYaml('wrong-password', 'hoop_clear_user', 'not-the-password', 'postgres', port, '{ mode: disable }'),
    ].join(''),
  });
  alice = new User('alice', stack);
  expect((await alice.login()).code).toBe(0);
});

afterAll(async () => {
  await alice?.stopAgent();
  await stack?.close();
});

async function queryThrough(connection: string, sql: string): Promise<pg.QueryResult> {
  const { port } = await alice.connect(connection);
  const c = tunnelClient(port);
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('logging in to the target with the credentials the gateway holds', () => {
  it('uses SCRAM-SHA-256', async () => {
    const r = await queryThrough('shop', 'SELECT current_user AS u');
    expect(r.rows[0].u).toBe(stack.shopRole);
  });

  it('uses md5', async () => {
    expect((await queryThrough('md5', 'SELECT current_user AS u')).rows[0].u).toBe('hoop_md5_user');
  });

  it('uses a cleartext password', async () => {
    expect((await queryThrough('cleartext', 'SELECT current_user AS u')).rows[0].u).toBe('hoop_clear_user');
  });

  it('uses TLS with verify-full against the configured CA', async () => {
    const r = await queryThrough('tls', 'SELECT current_user AS u, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(r.rows[0]).toEqual({ u: 'hoop_tls_user', ssl: true });
  });

  it('refuses a server whose certificate the CA did not sign, with a clear error', async () => {
    const { port } = await alice.connect('tls-bad-ca');
    const c = tunnelClient(port);
    const err = (await c.connect().then(() => null, (e: unknown) => e)) as { code?: string; message: string } | null;
    expect(err?.code).toBe('08001');
    expect(err?.message).toMatch(/^hoop: TLS to tls-bad-ca failed/);
  });

  it('reports a target that refuses the gateway\'s login without leaking the password', async () => {
    const { port } = await alice.connect('wrong-password');
    const c = tunnelClient(port);
    const err = (await c.connect().then(() => null, (e: unknown) => e)) as { code?: string; message: string } | null;
    expect(err?.code).toBe('08001');
    expect(err?.message).toContain('wrong-password refused the gateway\'s login: password authentication failed');
    expect(err?.message).not.toContain('not-the-password');
  });
});

/** Sends raw bytes through the tunnel and collects what comes back until the gateway closes. */
function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = netConnect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    setTimeout(() => s.destroy(), 10_000).unref();
  });
}

describe('malformed client bytes', () => {
  it('answers garbage with a protocol error and keeps serving everyone else', async () => {
    const { port } = await alice.connect('shop');
    const garbage = Buffer.from([0, 0, 0, 8, 0, 0x12, 0x34, 0x56]); // a startup packet with an unknown protocol
    const reply = await rawExchange(port, garbage);
    expect(String.fromCharCode(reply[0]!)).toBe('E');
    expect(reply.toString('latin1')).toContain('08P01');

    const huge = Buffer.alloc(8);
    huge.writeInt32BE(0x7fffffff, 0); // declares a 2 GB startup packet: refused before any of it is buffered
    const reply2 = await rawExchange(port, huge);
    expect(reply2.toString('latin1')).toContain('08P01');

    const c = tunnelClient(port);
    await c.connect();
    expect((await c.query('SELECT 42 AS still_here')).rows).toEqual([{ still_here: 42 }]);
    // an unknown message type after startup is passed through; the server answers it with its own error
    await c.end();
  });
});
