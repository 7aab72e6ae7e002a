/**
 * Events between gateway instances sharing one database, through PostgreSQL LISTEN/NOTIFY:
 * - a review was decided (waiting sessions go on at once, on whichever instance holds them);
 * - a grant was revoked or renewed (live tunnels are re-checked at once instead of at the next tick);
 * - a CancelRequest arrived at an instance that does not hold the session it names.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../../shared/log.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, type Queryable } from './db.js';

const CHANNEL = 'hoop_reviews';
const RECONNECT_FIRST_MS = 1000;
const RECONNECT_MAX_MS = 30_000;
/** Grants revoked (or renewed) on any instance: live tunnels are re-checked at once instead of at the next tick. */
export const GRANT_CHANNEL = 'hoop_grants';
/** Cancel requests for a session another instance may hold (the payload names a digest of the key, not the key). */
const CANCEL_CHANNEL = 'hoop_cancels';

export class ClusterNotifier {
  readonly #events = new EventEmitter();
  readonly #logger: Logger;
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #connectTimeoutMs: number;

  constructor(logger: Logger, options: { connectTimeoutMs?: number } = {}) {
    this.#logger = logger;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#events.setMaxListeners(0);
  }

  /**
   * Listens on the shared database. Rejects if the first connection fails (start-up reports it); after that, a
   * dropped connection is reconnected for as long as it takes, retrying at growing intervals (1 s to 30 s), so
   * that a database restart does not end notifications until the gateway restarts. Meanwhile every instance
   * still re-checks its live grants and its waiting reviews each second: notifications only make it faster.
   */
  async listen(url: string): Promise<void> {
    await this.#connect(url);
  }

  async #connect(url: string): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: url, application_name: 'hoop-gateway-events', connectionTimeoutMillis: this.#connectTimeoutMs });
    client.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload) this.#events.emit('decided', n.payload);
      if (n.channel === GRANT_CHANNEL && n.payload) this.#events.emit('grant', n.payload);
      if (n.channel === CANCEL_CHANNEL && n.payload) this.#events.emit('cancel', n.payload);
    });
    let lost = false;
    client.on('error', (e) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => undefined);
      if (this.#closed) return;
      this.#logger.warn('cluster notifications lost their connection; reconnecting', { error: e });
      this.#reconnect(url, 1);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}; LISTEN ${GRANT_CHANNEL}; LISTEN ${CANCEL_CHANNEL}`);
    } catch (e) {
      lost = true;
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
  }

  /** Tries again after 1, 2, 4 … up to 30 s, until a connection listens again (or the notifier is closed). */
  #reconnect(url: string, attempt: number): void {
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** (attempt - 1));
    const timer = setTimeout(() => {
      this.#connect(url).then(
        () => {
          if (!this.#closed) this.#logger.info('cluster notifications reconnected', { attempts: attempt });
        },
        (e: unknown) => {
          if (attempt === 1 || attempt % 10 === 0) this.#logger.warn('cluster notifications cannot reconnect yet; still trying', { error: e, attempts: attempt });
          this.#reconnect(url, attempt + 1);
        },
      );
    }, delay);
    timer.unref();
    this.#retry = timer;
  }

  /** Announces a decision (within the deciding transaction: delivered at commit). */
  async notify(q: Queryable, reviewId: string): Promise<void> {
    await q.query('SELECT pg_notify($1, $2)', [CHANNEL, reviewId]);
  }

  /** For decisions made in this process: wakes local waiters without waiting for the round trip. */
  emitLocal(reviewId: string): void {
    this.#events.emit('decided', reviewId);
  }

  onDecided(listener: (reviewId: string) => void): () => void {
    this.#events.on('decided', listener);
    return () => this.#events.off('decided', listener);
  }

  onGrantChanged(listener: (grantId: string) => void): () => void {
    this.#events.on('grant', listener);
    return () => this.#events.off('grant', listener);
  }

  /** Sends a cancel request to every instance (this one included: listeners skip their own). */
  async publishCancel(q: Queryable, payload: string): Promise<void> {
    await q.query('SELECT pg_notify($1, $2)', [CANCEL_CHANNEL, payload]);
  }

  onCancel(listener: (payload: string) => void): () => void {
    this.#events.on('cancel', listener);
    return () => this.#events.off('cancel', listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#client?.end().catch(() => undefined);
  }
}
