/**
 * `hoop connect` in the foreground: on a terminal (a real pseudo-terminal, see helpers/terminal.ts) the live ink
 * view, with `q` typed into it as a user would; off a terminal (a script, nohup) a plain wait for Ctrl-C. Both
 * hold the tunnel until then, and both end when the agent says the tunnel ended (revoked, replaced).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { connect as netConnect, createServer as netCreateServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOP_BIN, startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { hoopOnTerminal } from '../helpers/terminal.js';

let stack: Stack;
let alice: User;
let bob: User;

beforeAll(async () => {
  stack = await startStack();
  alice = new User('alice', stack);
  bob = new User('bob', stack);
  for (const u of [alice, bob]) {
    const login = await u.login();
    expect(login.code, login.stderr).toBe(0);
  }
});

afterAll(async () => {
  await alice?.stopAgent();
  await stack?.close();
});

/** `hoop connect` with pipes for stdio (no terminal), left running; its output is collected as it comes. */
function connectInBackground(args: string[]): { child: ChildProcessWithoutNullStreams; out: () => string; exited: Promise<number | null>; until: (re: RegExp) => Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, [HOOP_BIN, 'connect', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...alice.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  return {
    child, exited, out: () => text,
    async until(re) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const m = re.exec(text);
        if (m) return m;
        if (code !== undefined || Date.now() > deadline) throw new Error(`never saw ${re} (exit ${String(code)}); the output:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

async function agentTunnel(connection: string): Promise<{ state?: string; port: number; grant_id: string; last_error: string | null } | undefined> {
  const r = await alice.hoop(['agent', 'status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { tunnels: Array<{ connection: string; state?: string; port: number; grant_id: string; last_error: string | null }> })
    .tunnels.find((t) => t.connection === connection);
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** The view's last frame: ink redraws whole frames, and the last one stays on the screen. */
function lastFrame(screen: string): string {
  const from = screen.lastIndexOf('╭');
  return screen.slice(from, screen.indexOf('╯', from) + 1);
}

describe('hoop connect on a terminal', () => {
  it('shows the live view (port, client command, grant, clients and statements), and q closes the tunnel', async () => {
    const term = hoopOnTerminal(['connect', 'shop', '--port', '0'], alice.env);
    try {
      const port = Number((await term.until(/Listening on 127\.0\.0\.1:(\d+)/))[1]);
      await term.until(new RegExp(`psql "postgresql://alice@127\\.0\\.0\\.1:${port}/[^"]+"`));
      await term.until(/Grant [0-9a-f]{8} · \d+[hms][^\n]* left/);

      const c = tunnelClient(port);
      await c.connect();
      expect((await c.query('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }]);
      // The view polls the agent and the gateway every 2 s.
      await term.until(/Clients: 1 connected, 1 total · Statements: 1\b/);
      await c.end();
      await term.until(/Clients: 0 connected, 1 total/);

      term.type('q');
      expect(await term.exited).toBe(0);
      expect(term.screen()).toContain('Tunnel to shop closed.');
      expect(lastFrame(term.screen())).toMatch(/Grant [0-9a-f]{8} · given back as the tunnel closes[\s\S]*Closing the tunnel…/);
      expect(lastFrame(term.screen())).not.toMatch(/\bleft\b|connected|q closes/);
      expect(await refused(port)).toBe(true);
    } finally {
      term.child.kill('SIGKILL');
    }
  });

  it('fits a terminal of 80 columns: the keys hint stays on one line', async () => {
    const term = hoopOnTerminal(['connect', 'shop', '--port', '0'], { ...alice.env, COLUMNS: '80' });
    try {
      await term.until(/Grant [0-9a-f]{8} · \d+[hms][^\n]* left/);
      const frame = (await term.until(/╭[^╯]*Ctrl-C[^╯]*╯/))[0];
      expect(frame).toMatch(/│ Ctrl-C or q closes the tunnel · [^\n│]*--detach[^\n│]* background +│/);
      for (const line of frame.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(80);
      term.type('q');
      expect(await term.exited).toBe(0);
    } finally {
      term.child.kill('SIGKILL');
    }
  });

  it('ends the view when the grant is revoked: says why, exits 4, and the port is closed', async () => {
    const term = hoopOnTerminal(['connect', 'shop', '--port', '0'], alice.env);
    try {
      const port = Number((await term.until(/Listening on 127\.0\.0\.1:(\d+)/))[1]);
      const c = tunnelClient(port);
      c.on('error', () => undefined); // the revocation ends it with a FATAL
      await c.connect();
      await c.query('SELECT 1');
      const grantId = (await agentTunnel('shop'))!.grant_id;
      const r = await bob.hoop(['revoke', grantId]);
      expect(r.code, r.stderr).toBe(0);
      expect(await term.exited).toBe(4);
      expect(term.screen()).toContain('The tunnel has closed.');
      // The last frame stays on the screen: it says how the grant ended, and claims nothing that is over.
      const last = lastFrame(term.screen());
      expect(last).toMatch(/Grant [0-9a-f]{8} · revoked/);
      expect(last).toContain('Last error: the grant was revoked');
      expect(last).toMatch(/Clients: 1 total · Statements: \d+/);
      expect(last).not.toMatch(/\bleft\b|connected|Ctrl-C|q closes|Listening on/);
      expect(term.screen()).toMatch(/error: the tunnel to shop closed: the grant was revoked/);
      expect(await refused(port)).toBe(true);
      expect(await agentTunnel('shop')).toMatchObject({ state: 'revoked', last_error: 'the grant was revoked' });
    } finally {
      term.child.kill('SIGKILL');
    }
  });
});

describe('hoop connect off a terminal', () => {
  it('a tunnel that cannot open gives back the grant it was issued', async () => {
    const busy = netCreateServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = await alice.hoop(['connect', 'shop', '--port', String(port), '--detach']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      const { grants } = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ issued_at: string; revoked_at: string | null }> };
      const newest = grants.sort((a, b) => b.issued_at.localeCompare(a.issued_at))[0]!;
      expect(newest.revoked_at).toEqual(expect.any(String));
    } finally {
      busy.close();
    }
  });

  it('says when the grant ends in the format `hoop grants` uses (UTC), while --json keeps ISO-8601', async () => {
    const r = await alice.hoop(['connect', 'shop', '--port', '0', '--detach']);
    try {
      expect(r.code, r.stderr).toBe(0);
      const m = /open on 127\.0\.0\.1:\d+ until ((?:\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}:\d{2}Z) \(grant (\S+)\)\./.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      const [, until, grantId] = m!;
      const listed = await alice.hoop(['grants']);
      expect(listed.code, listed.stderr).toBe(0);
      const row = listed.stdout.split('\n').find((l) => l.startsWith(grantId!));
      expect(row, listed.stdout).toContain(`until ${until}`);
      const { grants } = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ id: string; expires_at: string }> };
      const expiresAt = grants.find((g) => g.id === grantId)!.expires_at;
      expect(expiresAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
      expect(new Date(expiresAt).toISOString().slice(11, 19)).toBe(until!.slice(-9, -1));
    } finally {
      await alice.hoop(['disconnect', 'shop']);
    }
  });

  it('holds the tunnel until SIGINT, then closes it and exits 0', async () => {
    const run = connectInBackground(['shop', '--port', '0']);
    try {
      const port = Number((await run.until(/Tunnel to shop open on 127\.0\.0\.1:(\d+)/))[1]);
      // Well past the moment the process used to exit (at once, with code 13: nothing kept it alive).
      await new Promise((r) => setTimeout(r, 3000));
      expect(run.child.exitCode).toBeNull();
      const c = tunnelClient(port);
      await c.connect();
      expect((await c.query('SELECT 6 * 7 AS n')).rows).toEqual([{ n: 42 }]);
      await c.end();
      const grantId = (await agentTunnel('shop'))!.grant_id;
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(run.out()).toContain('Tunnel to shop closed.');
      expect(await refused(port)).toBe(true);
      expect(await agentTunnel('shop')).toBeUndefined();
      // Closed by its user: the grant is given back, so no live grant outlasts the tunnel.
      const grants = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ id: string; revoked_at: string | null }> };
      expect(grants.grants.find((g) => g.id === grantId)?.revoked_at).toEqual(expect.any(String));
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('returns when another hoop connect replaces the tunnel, and leaves the replacement open', async () => {
    const run = connectInBackground(['shop', '--port', '0']);
    try {
      const port = Number((await run.until(/Tunnel to shop open on 127\.0\.0\.1:(\d+)/))[1]);
      const second = await alice.connect('shop', []);
      expect(second.port).not.toBe(port); // --port 0 again: any free port, so the first listener closed
      expect(await run.exited).toBe(0);
      expect(run.out()).toContain('Tunnel to shop closed: another `hoop connect` replaced it.');
      const c = tunnelClient(second.port);
      await c.connect();
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      await c.end();
      expect(await agentTunnel('shop')).toMatchObject({ state: 'open', grant_id: second.grantId });
    } finally {
      run.child.kill('SIGKILL');
      await alice.hoop(['disconnect', 'shop']);
    }
  });
});
