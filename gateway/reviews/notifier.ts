/**
 * Tells waiting sessions that a review was decided: at once in this process, and through PostgreSQL
 * LISTEN/NOTIFY on the shared database for sessions held by other gateway instances.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../../shared/log.js';
import type { Queryable } from '../store/db.js';

const CHANNEL = 'hoop_reviews';
/** Grants revoked (or renewed) on any instance: live tunnels are re-checked at once instead of at the next tick. */
export const GRANT_CHANNEL = 'hoop_grants';

export class ReviewNotifier {
  readonly #events = new EventEmitter();
  readonly #logger: Logger;
  #client: pg.Client | undefined;
  #closed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
    this.#events.setMaxListeners(0);
  }

  /** Listens on the shared database (reconnecting if the connection drops). */
  async listen(url: string): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: url, application_name: 'hoop-gateway-reviews' });
    client.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload) this.#events.emit('decided', n.payload);
      if (n.channel === GRANT_CHANNEL && n.payload) this.#events.emit('grant', n.payload);
    });
    client.on('error', (e) => {
      this.#logger.warn('review notifications lost their connection; reconnecting', { error: e });
      this.#client = undefined;
      setTimeout(() => void this.listen(url).catch(() => undefined), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}; LISTEN ${GRANT_CHANNEL}`);
    this.#client = client;
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

  async close(): Promise<void> {
    this.#closed = true;
    await this.#client?.end().catch(() => undefined);
  }
}
