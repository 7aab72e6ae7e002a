/**
 * `hoop connect` on a terminal (a real pseudo-terminal, see helpers/terminal.ts): the live ink view, and `q`
 * typed into it as a user would.
 */
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { hoopOnTerminal } from '../helpers/terminal.js';

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
      expect(await refused(port)).toBe(true);
    } finally {
      term.child.kill('SIGKILL');
    }
  });
});
