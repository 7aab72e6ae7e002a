/**
 * The one copy loop of the agent: a local client socket on one side, a tunnel stream on the other.
 *
 * Like cloud-sql-proxy's copy loop, it tears down both sides exactly once, whichever side ends first, and writes
 * respect backpressure both ways: the client socket is paused while the tunnel's queue is above its high-water
 * mark, and the tunnel is paused while the client socket's write buffer is full. Bytes the client sends before
 * the tunnel opens are held (up to a bound, then the client is paused) and sent in order once it opens.
 */
import type { Socket } from 'node:net';
import { TUNNEL_CLOSE } from '../tunnel/protocol.js';
import type { TunnelDialer, TunnelStream } from '../tunnel/ws-dialer.js';

export const PRE_OPEN_LIMIT = 256 * 1024;
export const OPEN_TIMEOUT_MS = 10_000;
/** After the gateway side closes, the client gets this long to read what is left and close its end. */
const CLIENT_LINGER_MS = 5_000;

export type RelayEnd = 'client_closed' | 'gateway_closed' | 'aborted' | 'dial_failed' | 'open_timeout';

export interface RelayResult {
  end: RelayEnd;
  /** A safe, user-facing description of the failure, or null for a normal end. */
  error: string | null;
  bytesFromClient: number;
  bytesToClient: number;
  /** The most bytes this relay held at once (pre-open queue + tunnel queue + client write buffer). */
  maxBuffered: number;
}

export interface RelayOptions {
  client: Socket;
  dialer: TunnelDialer;
  token: string;
  signal?: AbortSignal;
  openTimeoutMs?: number;
  preOpenLimit?: number;
  /** Live byte counts, called as data moves (for the tunnel's counters). */
  onBytes?: (fromClient: number, toClient: number) => void;
  /**
   * The stream closed: with the close code the gateway sent (TUNNEL_CLOSE), or the one its refusal at the door
   * stands for, or null; and, when it never opened, why (the gateway's own words, for the tunnel's status).
   */
  onGatewayClose?: (code: number | null, doorRefusal?: string) => void;
  /**
   * The tunnel never opened (`why`): answers the client in its own protocol (given what it sent so far) and
   * closes it, instead of a bare close. It takes the client over; the relay destroys it after a while if not.
   */
  refuse?: (client: Socket, sent: Buffer, why: string) => void;
}

/**
 * Relays `client` through one tunnel stream until either side ends. Resolves once the client socket has closed
 * (the tunnel stream is closed or closing by then); never rejects.
 */
export function relay(opts: RelayOptions): Promise<RelayResult> {
  const { client, signal } = opts;
  const preOpenLimit = opts.preOpenLimit ?? PRE_OPEN_LIMIT;
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let opened = false;
  /** The client finished sending before the tunnel opened: deliver what it sent, then close. */
  let clientDone = false;
  let ended: RelayEnd | null = null;
  let error: string | null = null;
  let bytesFromClient = 0;
  let bytesToClient = 0;
  let maxBuffered = 0;
  let lingerTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (r: RelayResult) => void;
  const done = new Promise<RelayResult>((r) => (resolveDone = r));

  const openTimeoutMs = opts.openTimeoutMs ?? OPEN_TIMEOUT_MS;
  const openTimer = setTimeout(() => {
    const within = openTimeoutMs >= 1000 ? `${Math.round(openTimeoutMs / 1000)} s` : `${openTimeoutMs} ms`;
    finish('open_timeout', `the gateway did not open the tunnel within ${within}`);
  }, openTimeoutMs);
  openTimer.unref();

  const sample = (): void => {
    const held = pendingBytes + stream.bufferedAmount + client.writableLength;
    if (held > maxBuffered) maxBuffered = held;
  };

  /** The single teardown path. `how` says which side ended; only the first call acts. */
  const finish = (how: RelayEnd, why: string | null): void => {
    if (ended !== null) return;
    ended = how;
    error = why;
    clearTimeout(openTimer);
    const sent = pending.splice(0);
    pendingBytes = 0;
    if ((how === 'dial_failed' || how === 'open_timeout') && opts.refuse) {
      stream.destroy();
      opts.refuse(client, Buffer.concat(sent), why ?? 'the gateway did not open the tunnel');
      lingerTimer = setTimeout(() => client.destroy(), CLIENT_LINGER_MS);
      lingerTimer.unref();
      if (client.destroyed) settle();
      return;
    }
    switch (how) {
      case 'client_closed':
        stream.close(TUNNEL_CLOSE.normal);
        client.destroy();
        break;
      case 'aborted':
        stream.close(TUNNEL_CLOSE.goingAway);
        client.destroy();
        break;
      case 'open_timeout':
        stream.destroy();
        client.destroy();
        break;
      case 'gateway_closed':
      case 'dial_failed':
        // end(), not destroy(): whatever the gateway sent last (an ErrorResponse naming the grant problem, say)
        // still reaches the client. If the client does not close its end, it is destroyed after a while.
        client.end();
        client.resume();
        lingerTimer = setTimeout(() => client.destroy(), CLIENT_LINGER_MS);
        lingerTimer.unref();
        break;
    }
    if (client.destroyed) settle();
  };

  let settled = false;
  const settle = (): void => {
    if (settled) return;
    settled = true;
    clearTimeout(lingerTimer);
    signal?.removeEventListener('abort', onAbort);
    resolveDone({ end: ended ?? 'client_closed', error, bytesFromClient, bytesToClient, maxBuffered });
  };

  const onAbort = (): void => {
    // Already ending (the client is reading the gateway's last bytes): stop waiting for it.
    if (ended !== null) client.destroy();
    else finish('aborted', null);
  };

  const stream: TunnelStream = opts.dialer.dial(opts.token, {
    open: () => {
      if (ended !== null) return;
      opened = true;
      clearTimeout(openTimer);
      let writable = true;
      for (const chunk of pending.splice(0)) writable = stream.write(chunk);
      pendingBytes = 0;
      sample();
      // A CancelRequest arrives this way: 16 bytes and a FIN, often before the tunnel is open.
      if (clientDone) return finish('client_closed', null);
      // If the queue is above its mark, stay paused: `drain` resumes the client.
      if (writable) client.resume();
    },
    data: (chunk) => {
      if (ended !== null) return;
      bytesToClient += chunk.length;
      opts.onBytes?.(0, chunk.length);
      if (!client.write(chunk)) stream.pause();
      sample();
    },
    drain: () => {
      if (ended === null) client.resume();
    },
    close: (info) => {
      // Even after the client went first: a client that reads a FATAL closes at once, before the close frame
      // that says why the gateway ended the stream (a revoked grant) arrives.
      opts.onGatewayClose?.(info.code, info.opened ? undefined : info.error ?? undefined);
      finish(info.opened ? 'gateway_closed' : 'dial_failed', info.error);
    },
  });

  client.on('data', (chunk: Buffer) => {
    if (ended !== null) return; // draining a closing client: drop
    bytesFromClient += chunk.length;
    opts.onBytes?.(chunk.length, 0);
    if (!opened) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= preOpenLimit) client.pause();
    } else if (!stream.write(chunk)) {
      client.pause();
    }
    sample();
  });
  client.on('drain', () => {
    if (ended === null) stream.resume();
  });
  /** The client will send nothing more (FIN, or closed after one). WebSockets have no half-close: close. */
  const clientFinished = (): void => {
    if (ended !== null) return;
    if (!opened && pendingBytes > 0) clientDone = true;
    else finish('client_closed', null);
  };
  client.on('end', clientFinished);
  client.on('error', () => finish('client_closed', null));
  client.on('close', () => {
    clientFinished();
    if (ended !== null) settle();
  });

  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return done;
}
