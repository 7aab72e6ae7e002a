/**
 * `hoop connect` on a terminal: the live ink view. The CLI runs under a pseudo-terminal made by `script`
 * (util-linux, in Debian's essential bsdutils package), so it sees a TTY exactly as in a user's shell, and the
 * test types `q` into it as a user would.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOP_BIN, startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';

let stack: Stack;
let alice: User;

beforeAll(async () => {
  stack = await startStack();
  alice = new User('alice', stack);
  const login = await alice.login();
  expect(login.code, login.stderr).toBe(0);
});

afterAll(async () => {
  await alice?.stopAgent();
  await stack?.close();
});

/** Strips ANSI escapes (colours, cursor moves) from terminal output. */
function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\r/g, '');
}

function onTerminal(args: string[]): { child: ChildProcessWithoutNullStreams; screen: () => string; exited: Promise<number | null> } {
  const quoted = [process.execPath, HOOP_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', quoted, '/dev/null'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', COLUMNS: '120', LINES: '40', ...alice.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, screen: () => plain(out), exited };
}

async function until(screen: () => string, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(screen());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`never saw ${re} on the terminal; it shows:\n${screen()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
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

describe('hoop connect on a terminal', () => {
  it('shows the live view (port, client command, grant, clients and statements), and q closes the tunnel', async () => {
    const term = onTerminal(['connect', 'shop', '--port', '0']);
    try {
      const port = Number((await until(term.screen, /Listening on 127\.0\.0\.1:(\d+)/))[1]);
      await until(term.screen, new RegExp(`psql "postgresql://alice@127\\.0\\.0\\.1:${port}/[^"]+"`));
      await until(term.screen, /Grant [0-9a-f]{8} · \d+[hms][^\n]* left/);

      const c = tunnelClient(port);
      await c.connect();
      expect((await c.query('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }]);
      // The view polls the agent and the gateway every 2 s.
      await until(term.screen, /Clients: 1 connected, 1 total · Statements: 1\b/);
      await c.end();
      await until(term.screen, /Clients: 0 connected, 1 total/);

      term.child.stdin.write('q');
      expect(await term.exited).toBe(0);
      expect(term.screen()).toContain('Tunnel to shop closed.');
      expect(await refused(port)).toBe(true);
    } finally {
      term.child.kill('SIGKILL');
    }
  });
});
