/**
 * `hoop agent status` shows a tunnel's last error. A client stream that failed (the gateway was down) must not
 * stay there once a later client gets through: the tunnel works again, and the old error would say otherwise.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Tunnel, type TunnelGrant } from '../../../agent/tunnel.js';
import type { Clock } from '../../../agent/renewal.js';
import { HoopError } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/log.js';
import type { TunnelDialer, TunnelHandlers, TunnelStream } from '../../../shared/tunnel/ws-dialer.js';
import { startup } from '../../helpers/pg-bytes.js';

const REFUSED = 'cannot reach the gateway at ws://127.0.0.1:8009/v1/tunnel: ECONNREFUSED';

/** A gateway that is down (`refuse`) or up and echoing (`echo`), as the test says; each outcome comes async. */
function fakeGateway(): { dialer: TunnelDialer; mode: 'refuse' | 'echo' } {
  const gw = {
    mode: 'refuse' as 'refuse' | 'echo',
    dialer: {
      dial(_token: string, h: TunnelHandlers): TunnelStream {
        let closed = false;
        const close = (): void => {
          if (closed) return;
          closed = true;
          setImmediate(() => h.close({ code: 1000, opened: true, error: null }));
        };
        if (gw.mode === 'refuse') setImmediate(() => h.close({ code: null, opened: false, error: REFUSED }));
        else setImmediate(() => h.open());
        return {
          write: (chunk) => (setImmediate(() => h.data(chunk)), true),
          bufferedAmount: 0,
          pause: () => undefined,
          resume: () => undefined,
          close,
          destroy: close,
        };
      },
    } satisfies TunnelDialer,
  };
  return gw;
}

/** A clock whose timers fire only when the test says: `runFirst` runs the one due soonest (a renewal comes before expiry). */
function heldClock(): Clock & { runFirst(): void } {
  const timers: Array<{ fn: () => void; ms: number }> = [];
  return {
    now: () => Date.now(),
    setTimer: (fn, ms) => {
      const t = { fn, ms };
      timers.push(t);
      return () => void (timers.includes(t) && timers.splice(timers.indexOf(t), 1));
    },
    runFirst: () => {
      const first = [...timers].sort((a, b) => a.ms - b.ms)[0];
      if (!first) throw new Error('no timer is set');
      timers.splice(timers.indexOf(first), 1);
      first.fn();
    },
  };
}

function grant(): TunnelGrant {
  const now = Date.now();
  return {
    id: 'grant-1', connection: 'shop', type: 'postgres', subject: 'alice', groups: [],
    issued_at: new Date(now).toISOString(), expires_at: new Date(now + 3_600_000).toISOString(), token: 'tok',
  };
}

const open: Tunnel[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function tunnel(gw: ReturnType<typeof fakeGateway>, clock: Clock, deps: Partial<Parameters<typeof Tunnel.open>[1]> = {}): Promise<Tunnel> {
  const t = await Tunnel.open({ connection: 'shop', gatewayUrl: 'http://127.0.0.1:8009', grant: grant(), port: 0 }, {
    dialer: gw.dialer, clock, logger: silentLogger, ...deps,
  });
  open.push(t);
  return t;
}

/** A psql-like client the gateway could not be reached for: it is told why, and the tunnel notes it. */
async function refusedClient(t: Tunnel): Promise<string> {
  const s = connect({ host: '127.0.0.1', port: t.port });
  s.write(startup({ user: 'alice', database: 'shop' }));
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  s.on('end', () => s.destroy());
  await once(s, 'close');
  await t.idle();
  return got;
}

/** A client that gets through: what it sends comes back. */
async function workingClient(t: Tunnel): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port: t.port });
  await once(s, 'connect');
  s.write('ping');
  const [echo] = (await once(s, 'data')) as [Buffer];
  expect(echo.toString()).toBe('ping');
  return s;
}

describe('a tunnel\'s last error', () => {
  it('is cleared once a client gets through again after the gateway was down', async () => {
    const gw = fakeGateway();
    const t = await tunnel(gw, heldClock());
    expect(await refusedClient(t)).toContain(`FATAL\0C08001\0Mhoop: ${REFUSED}`);
    expect(t.info()).toMatchObject({ state: 'open', last_error: REFUSED });

    gw.mode = 'echo'; // the gateway is back
    const client = await workingClient(t);
    expect(t.info()).toMatchObject({ state: 'open', active_clients: 1, last_error: null });
    client.destroy();
    await t.idle();
    expect(t.info().last_error).toBeNull();
  });

  it('a renewal still failing stays shown: only a stream\'s own error is cleared by a stream that opens', async () => {
    const gw = fakeGateway();
    const clock = heldClock();
    const renewGrant = (): Promise<TunnelGrant> => Promise.reject(new HoopError('gateway_unreachable', 'cannot reach the gateway'));
    const t = await tunnel(gw, clock, { renewGrant });
    clock.runFirst(); // the renewal comes due, and fails
    await expect.poll(() => t.info().last_error).toBe('grant renewal failed: cannot reach the gateway (will retry)');
    await refusedClient(t);
    expect(t.info().last_error).toBe(REFUSED);

    gw.mode = 'echo';
    const client = await workingClient(t);
    expect(t.info().last_error).toBe('grant renewal failed: cannot reach the gateway (will retry)');
    client.destroy();
  });
});
