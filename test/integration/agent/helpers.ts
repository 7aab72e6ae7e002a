/** Helpers shared by the agent's integration tests: a manual clock, grant fixtures and TCP client utilities. */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { TunnelGrant } from '../../../agent/tunnel.js';
import type { Clock } from '../../../agent/renewal.js';

/** A clock that moves only when told to; timers fire in order during {@link advance}. */
export class ManualClock implements Clock {
  #now: number;
  #timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  #seq = 0;

  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const t = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(t);
    return () => {
      this.#timers = this.#timers.filter((x) => x !== t);
    };
  }

  /** Moves time forward, running each timer that comes due, earliest first. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
    }
    this.#now = target;
  }

  get pending(): number {
    return this.#timers.length;
  }
}

export function grantFixture(token: string, expiresAt: number, over: Partial<TunnelGrant> = {}): TunnelGrant {
  return {
    id: 'grant-1',
    connection: 'shop',
    type: 'postgres',
    subject: 'alice',
    groups: ['engineers'],
    issued_at: new Date(expiresAt - 3_600_000).toISOString(),
    expires_at: new Date(expiresAt).toISOString(),
    token,
    ...over,
  };
}

export async function connectTo(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  return s;
}

/** Resolves with the connect error code (ECONNREFUSED, …), or 'connected' if the connection was accepted. */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Reads until `n` bytes arrived (or the socket ended), with a timeout. */
export function readBytes(s: Socket, n: number, timeoutMs = 5_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${size} of ${n} bytes`));
    }, timeoutMs);
    const onData = (c: Buffer): void => {
      chunks.push(c);
      size += c.length;
      if (size >= n) finish();
    };
    const finish = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('end', finish);
    };
    s.on('data', onData);
    s.once('end', finish);
  });
}

/** Records how a client socket ended: the number of 'close' events and whether it ended or errored. */
export function watchClose(s: Socket): { closes: number; ended: boolean; error: string | null; closed: Promise<void> } {
  const w = { closes: 0, ended: false, error: null as string | null, closed: new Promise<void>((r) => s.once('close', () => r())) };
  s.on('end', () => (w.ended = true));
  s.on('error', (e: NodeJS.ErrnoException) => (w.error = e.code ?? e.message));
  s.on('close', () => (w.closes += 1));
  return w;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
