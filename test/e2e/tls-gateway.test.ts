/**
 * A gateway serving HTTPS: the CLI talks https and the agent carries tunnels over wss (TLS), trusting the
 * gateway's CA through NODE_EXTRA_CA_CERTS as a company CA would be trusted.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';

let stack: Stack;
let alice: User;

beforeAll(async () => {
  const ca = inject('pgTlsCaFile'); // the test CA also signed a certificate for 127.0.0.1
  stack = await startStack({ tls: { cert_file: ca.replace('ca.pem', 'server.pem'), key_file: ca.replace('ca.pem', 'server.key') } });
  alice = new User('alice', stack);
  Object.assign(alice.env, { NODE_EXTRA_CA_CERTS: ca });
});

afterAll(async () => {
  await alice?.stopAgent();
  await stack?.close();
});

describe('a gateway behind TLS', () => {
  it('serves https, and the agent tunnels over wss', async () => {
    expect(stack.gatewayUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await alice.login()).code).toBe(0);
    const { port } = await alice.connect('shop');
    const c = tunnelClient(port);
    await c.connect();
    expect((await c.query('SELECT count(*)::int AS n FROM customers')).rows).toEqual([{ n: 50 }]);
    await c.end();
  });

  it('an agent started without the CA trust: hoop connect says so, instead of a tunnel that refuses every client', async () => {
    const ann = new User('alice', stack);
    Object.assign(ann.env, { NODE_EXTRA_CA_CERTS: inject('pgTlsCaFile') });
    expect((await ann.login()).code).toBe(0);
    // The agent was started from a shell without the variable (it keeps the environment it started with).
    expect((await ann.hoop(['agent', 'start'], { env: { NODE_EXTRA_CA_CERTS: undefined } })).code).toBe(0);
    try {
      const r = await ann.hoop(['connect', 'shop', '--detach', '--port', '0']);
      expect(r.code).toBe(9);
      expect(r.stderr).toContain(`the agent cannot reach the gateway at ${stack.gatewayUrl}: its TLS certificate is not trusted (`);
      expect(r.stderr).toMatch(/hint: the agent does not trust the gateway's TLS certificate: set NODE_EXTRA_CA_CERTS .* run `hoop agent stop` and `hoop connect` again/);
      const status = JSON.parse((await ann.hoop(['agent', 'status', '--json'])).stdout) as { tunnels: unknown[] };
      expect(status.tunnels).toEqual([]);
      // As the hint says: stop it, and connect again from this shell.
      expect((await ann.hoop(['agent', 'stop'])).code).toBe(0);
      const { port } = await ann.connect('shop');
      const c = tunnelClient(port);
      await c.connect();
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      await c.end();
    } finally {
      await ann.stopAgent();
    }
  });

  it('refuses a gateway whose certificate is not trusted', async () => {
    const stranger = new User('alice', stack); // no NODE_EXTRA_CA_CERTS
    const r = await stranger.hoop(['login', '--no-browser']);
    expect(r.code).toBe(9);
    expect(r.stderr).toContain(`cannot reach the gateway at ${stack.gatewayUrl} (TLS certificate not trusted`);
    expect(r.stderr).toContain('NODE_EXTRA_CA_CERTS');
  });
});
