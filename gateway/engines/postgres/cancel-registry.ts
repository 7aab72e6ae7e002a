/**
 * CancelRequest routing. Each client gets a BackendKeyData made up by the gateway; a cancel that arrives on a
 * new tunnel is looked up here and forwarded to the target with the real key. Only the same subject's cancel
 * is honoured, and the real key never leaves the gateway.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { randomBytes, randomInt } from 'node:crypto';
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

export class CancelRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
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
      k = key(pid, secret);
    } while (this.#entries.has(k));
    this.#entries.set(k, { subject, target, upstream, ...(local ? { local } : {}) });
    return { pid, secret, release: () => this.#entries.delete(k) };
  }

  /** Forwards a cancel to the target. Returns false when the key is unknown or belongs to someone else. */
  async cancel(pid: number, secret: Buffer, subject: string): Promise<boolean> {
    const e = this.#entries.get(key(pid, secret));
    if (!e || e.subject !== subject) {
      this.#logger.info('cancel request ignored', { reason: e ? 'other subject' : 'unknown key' });
      return false;
    }
    if (e.local?.()) {
      this.#logger.info('cancel request handled at the gateway', { connection: e.target.name });
      return true;
    }
    const socket = await dial(e.target, 5000);
    await new Promise<void>((resolve) => {
      socket.end(encodeCancelRequest(e.upstream.pid, e.upstream.secret), () => resolve());
      socket.once('error', () => resolve());
    });
    socket.destroy();
    this.#logger.info('cancel request forwarded', { connection: e.target.name });
    return true;
  }

  get size(): number {
    return this.#entries.size;
  }
}

function key(pid: number, secret: Buffer): string {
  return `${pid}:${secret.toString('hex')}`;
}
