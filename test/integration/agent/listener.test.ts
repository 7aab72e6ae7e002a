import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { openListener, type Listener } from '../../../agent/listener.js';
import { HoopError } from '../../../shared/errors.js';
import { connectTo, tryConnect } from './helpers.js';

const open: Listener[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  for (const l of open.splice(0)) l.close();
  for (const b of blockers.splice(0)) await new Promise((r) => b.close(r));
});

async function occupy(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  blockers.push(s);
  return (s.address() as AddressInfo).port;
}

async function listen(opts: Partial<Parameters<typeof openListener>[0]> = {}): Promise<{ l: Listener; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const l = await openListener({ onConnection: (s) => accepted.push(s), ...opts });
  open.push(l);
  return { l, accepted };
}

function externalIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('listener', () => {
  it('binds 127.0.0.1 only: reachable on loopback, not on the machine\'s other addresses', async () => {
    const { l, accepted } = await listen({ port: 0 });
    expect(l.host).toBe('127.0.0.1');
    const c = await connectTo(l.port);
    await expect.poll(() => accepted.length).toBe(1);
    expect(accepted[0]!.localAddress).toBe('127.0.0.1');
    c.destroy();

    const external = externalIPv4();
    if (external !== undefined) {
      // Had the agent bound 0.0.0.0, the machine's external address would answer too.
      const code = await new Promise<string>((resolve) => {
        const sock = connect({ host: external, port: l.port });
        sock.once('connect', () => {
          sock.destroy();
          resolve('connected');
        });
        sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
      expect(code).toBe('ECONNREFUSED');
    }
  });

  it('accepts several clients at once, one socket each', async () => {
    const { l, accepted } = await listen({ port: 0 });
    const clients = await Promise.all([connectTo(l.port), connectTo(l.port), connectTo(l.port)]);
    await expect.poll(() => accepted.length).toBe(3);
    clients.forEach((c) => c.destroy());
  });

  it('takes the default port when it is free', async () => {
    const free = await occupy();
    blockers.pop()!.close();
    await new Promise((r) => setTimeout(r, 10));
    const { l } = await listen({ defaultPort: free });
    expect(l.port).toBe(free);
  });

  it('falls back to any free port when the default port is busy, and reports the port it took', async () => {
    const busy = await occupy();
    const { l } = await listen({ defaultPort: busy });
    expect(l.port).not.toBe(busy);
    expect(l.port).toBeGreaterThan(0);
    expect(await tryConnect(l.port)).toBe('connected');
  });

  it('refuses an explicitly requested busy port with an error naming the port', async () => {
    const busy = await occupy();
    const err = await openListener({ port: busy, onConnection: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoopError);
    expect((err as HoopError).code).toBe('conflict');
    expect((err as HoopError).message).toContain(`port ${busy}`);
    expect((err as HoopError).hint).toContain('--port');
  });

  it('after close, connecting is refused at once (no hang), and close is idempotent', async () => {
    const { l } = await listen({ port: 0 });
    l.close();
    l.close();
    expect(l.closed).toBe(true);
    expect(await tryConnect(l.port)).toBe('ECONNREFUSED');
  });
});
