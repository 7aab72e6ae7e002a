/**
 * CancelRequest routing. Each client gets a BackendKeyData made up by the gateway; a cancel that arrives on a
 * new tunnel is looked up here and forwarded to the target with the real key. Only the same subject's cancel
 * is honoured, and the real key never leaves the gateway.
 *
 * A cancel's new tunnel may reach another gateway instance than the session's (instances behind one load
 * balancer). A key this instance does not know is passed to the others through the relay (LISTEN/NOTIFY on the
 * shared database) as a SHA-256 digest of the made-up key, never the key itself; the instance holding it acts.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Logger } from '../../../shared/log.js';
import type { PostgresConnection } from '../../connections/connection.js';
import { encodeCancelRequest } from './protocol/index.js';
import { dial } from './upstream.js';

interface Entry {
  subject: string;
  target: PostgresConnection;
  upstream: { pid: number; secret: Buffer };
  /** The session's own handling (a statement held for approval is cancelled at the gateway); true when handled. */
  local?: () => boolean;
}

/** A cancel passed between instances. */
export interface RemoteCancel {
  /** SHA-256 (hex) of the client-facing key; see {@link keyDigest}. */
  digest: string;
  subject: string;
  /** The instance that received the cancel (it ignores its own message). */
  origin: string;
}

/** How instances hand each other cancels they cannot route themselves. */
export interface CancelRelay {
  publish(request: RemoteCancel): Promise<void>;
  /** Returns the function that unsubscribes. */
  subscribe(listener: (request: RemoteCancel) => void): () => void;
}

export class CancelRegistry {
  /** By key digest. */
  readonly #entries = new Map<string, Entry>();
  readonly #logger: Logger;
  readonly #relay: CancelRelay | undefined;
  readonly #instance = randomUUID();

  constructor(logger: Logger, relay?: CancelRelay) {
    this.#logger = logger;
    this.#relay = relay;
    relay?.subscribe((r) => void this.#fromOtherInstance(r));
  }

  /** Makes up a client-facing key for a session; returns it with the function that forgets it. */
  register(
    subject: string, target: PostgresConnection, upstream: { pid: number; secret: Buffer }, local?: () => boolean,
  ): { pid: number; secret: Buffer; release: () => void } {
    let pid: number;
    let secret: Buffer;
    let k: string;
    do {
      pid = randomInt(1, 0x7fffffff);
      secret = randomBytes(4);
      k = keyDigest(pid, secret);
    } while (this.#entries.has(k));
    this.#entries.set(k, { subject, target, upstream, ...(local ? { local } : {}) });
    return { pid, secret, release: () => this.#entries.delete(k) };
  }

  /**
   * Forwards a cancel to the target, or, for a key this instance does not hold, to the other instances.
   * Returns false when it is dropped here: the key belongs to someone else, or is unknown and there is no relay.
   */
  async cancel(pid: number, secret: Buffer, subject: string): Promise<boolean> {
    const digest = keyDigest(pid, secret);
    const e = this.#entries.get(digest);
    if (!e && this.#relay) {
      await this.#relay.publish({ digest, subject, origin: this.#instance });
      this.#logger.info('cancel request passed to the other gateway instances', { reason: 'unknown key here' });
      return true;
    }
    if (!e || e.subject !== subject) {
      this.#logger.info('cancel request ignored', { reason: e ? 'other subject' : 'unknown key' });
      return false;
    }
    await this.#forward(e);
    return true;
  }

  async #fromOtherInstance(r: RemoteCancel): Promise<void> {
    if (r.origin === this.#instance) return;
    const e = this.#entries.get(r.digest);
    if (!e) return; // another instance's session, or gone
    if (e.subject !== r.subject) {
      this.#logger.info('cancel request from another instance ignored', { reason: 'other subject' });
      return;
    }
    await this.#forward(e).catch((err: unknown) => this.#logger.warn('cancel failed', { error: err }));
  }

  async #forward(e: Entry): Promise<void> {
    if (e.local?.()) {
      this.#logger.info('cancel request handled at the gateway', { connection: e.target.name });
      return;
    }
    const socket = await dial(e.target, 5000);
    await new Promise<void>((resolve) => {
      socket.end(encodeCancelRequest(e.upstream.pid, e.upstream.secret), () => resolve());
      socket.once('error', () => resolve());
    });
    socket.destroy();
    this.#logger.info('cancel request forwarded', { connection: e.target.name });
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** Reads a {@link RemoteCancel} sent by another instance; null for anything else. */
export function parseRemoteCancel(text: string): RemoteCancel | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const r = v as Partial<RemoteCancel> | null;
  if (typeof r?.digest !== 'string' || !/^[0-9a-f]{64}$/.test(r.digest)) return null;
  if (typeof r.subject !== 'string' || typeof r.origin !== 'string') return null;
  return { digest: r.digest, subject: r.subject, origin: r.origin };
}

/** What identifies a client-facing key between instances, without revealing it. */
export function keyDigest(pid: number, secret: Buffer): string {
  return createHash('sha256').update(`${pid}:${secret.toString('hex')}`).digest('hex');
}
