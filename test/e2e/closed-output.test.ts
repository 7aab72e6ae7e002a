/**
 * `hoop … | head -1`: the reader of stdout goes away before hoop is done writing. As with other Unix tools the
 * command ends quietly with exit 0 (no "write EPIPE", no stack trace), and what it holds is let go first: a
 * foreground tunnel is closed in the agent, a running statement is cancelled and its grant given back.
 *
 * The test closes its end of the child's stdout pipe at once, so every write hoop makes fails with EPIPE.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { HOOP_BIN, startStack, User, type Stack } from '../helpers/stack.js';

interface Closed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs bin/hoop with its stdout pipe closed by the reader before anything is written. */
function runWithStdoutClosed(args: string[], env: Record<string, string> = {}): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOOP_BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A command that no longer ends (a tunnel held for nobody) fails the test instead of hanging it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('without a gateway', () => {
  it('hoop --help into a closed pipe exits 0, saying nothing', async () => {
    const r = await runWithStdoutClosed(['--help']);
    expect(r).toEqual({ code: 0, signal: null, stderr: '' });
  });

  it('hoop agent status into a closed pipe exits as it would have, saying nothing', async () => {
    const r = await runWithStdoutClosed(['agent', 'status'], { HOOP_CONFIG_DIR: '/nonexistent-hoop-config' });
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(r.signal).toBeNull();
    const help = await runWithStdoutClosed(['agent', '--help']);
    expect(help).toEqual({ code: 0, signal: null, stderr: '' });
  });

  it('hoop --version into a closed pipe exits 0, saying nothing', async () => {
    const r = await runWithStdoutClosed(['--version']);
    expect(r).toEqual({ code: 0, signal: null, stderr: '' });
  });
});

describe('with a gateway', () => {
  let stack: Stack;
  let alice: User;

  beforeAll(async () => {
    stack = await startStack();
    alice = new User('alice', stack);
    expect((await alice.login()).code).toBe(0);
  });

  afterAll(async () => {
    await alice?.stopAgent();
    await stack?.close();
  });

  const shopTunnel = async (): Promise<unknown> => {
    const { connections } = JSON.parse((await alice.hoop(['connections', '--json'])).stdout) as { connections: Array<{ name: string; tunnel: unknown }> };
    return connections.find((c) => c.name === 'shop')?.tunnel;
  };

  const newestGrant = async (): Promise<{ revoked_at: string | null }> => {
    const { grants } = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ issued_at: string; revoked_at: string | null }> };
    return grants.sort((a, b) => b.issued_at.localeCompare(a.issued_at))[0]!;
  };

  it('hoop connect --detach exits 0 quietly, and the tunnel it was asked to leave open stays open', async () => {
    const r = await runWithStdoutClosed(['connect', 'shop', '--detach', '--port', '0'], alice.env);
    expect(r).toEqual({ code: 0, signal: null, stderr: '' });
    expect(await shopTunnel()).toMatchObject({ state: 'open' });
    expect((await alice.hoop(['disconnect', 'shop'])).code).toBe(0);
  });

  it('hoop connect in the foreground closes its tunnel, then exits 0 quietly', async () => {
    const r = await runWithStdoutClosed(['connect', 'shop', '--port', '0'], alice.env);
    expect(r).toEqual({ code: 0, signal: null, stderr: '' });
    expect(await shopTunnel()).toBeNull();
  });

  it('hoop exec streaming COPY output stops the statement, gives its grant back, and exits 0 with no EPIPE error', async () => {
    const r = await runWithStdoutClosed(['exec', 'shop', '-i', 'COPY (SELECT g, pg_sleep(0.001) FROM generate_series(1, 1000000) g) TO STDOUT'], alice.env);
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect((await newestGrant()).revoked_at).toEqual(expect.any(String));
    const admin = new pg.Client({ connectionString: stack.shopAdminUrl });
    await admin.connect();
    try {
      const running = async (): Promise<number> => (await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%generate_series(1, 1000000)%'`,
      )).rows[0]!.n;
      // Cancelled, or ended with the tunnel when the process exits; the backend may take a moment to notice.
      for (const end = Date.now() + 5_000; (await running()) > 0 && Date.now() < end;) await new Promise((res) => setTimeout(res, 100));
      expect(await running(), 'the COPY still runs at the target').toBe(0);
    } finally {
      await admin.end();
    }
  });
});
