/**
 * Ends live tunnels whose grant was revoked or has expired. Expiry is checked locally on every tick; revocation
 * and renewal are read from the database (so they work across gateway instances on one database).
 */
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { GrantService } from './grant-service.js';

interface Tracked {
  grantId: string;
  connection: string;
  expiresAt: Date;
  terminate: (reason: HoopError) => void;
}

export interface GrantWatcherOptions {
  grants: Pick<GrantService, 'liveness'>;
  logger: Logger;
  intervalMs?: number;
  now?: () => Date;
}

export class GrantWatcher {
  readonly #o: GrantWatcherOptions;
  readonly #now: () => Date;
  readonly #tracked = new Set<Tracked>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(o: GrantWatcherOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => new Date());
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.tick(), this.#o.intervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Tracks one live tunnel; returns the function that stops tracking it. */
  track(grantId: string, connection: string, expiresAt: Date, terminate: (reason: HoopError) => void): () => void {
    const t: Tracked = { grantId, connection, expiresAt, terminate };
    this.#tracked.add(t);
    return () => this.#tracked.delete(t);
  }

  get size(): number {
    return this.#tracked.size;
  }

  async tick(): Promise<void> {
    if (this.#ticking || this.#tracked.size === 0) return;
    this.#ticking = true;
    try {
      // Only what was tracked when the query went out is judged by its answer: a tunnel tracked meanwhile has a
      // grant the query did not ask about, and its absence from the answer says nothing (it waits for the next tick).
      const batch = [...this.#tracked];
      const ids = [...new Set(batch.map((t) => t.grantId))];
      let state: Awaited<ReturnType<GrantService['liveness']>> | undefined;
      try {
        state = await this.#o.grants.liveness(ids);
      } catch (e) {
        this.#o.logger.warn('cannot read grant state; checking expiry only', { error: e });
      }
      const now = this.#now().getTime();
      for (const t of batch) {
        if (!this.#tracked.has(t)) continue; // untracked while the query ran (its tunnel ended)
        const s = state?.get(t.grantId);
        if (state && (!s || s.revoked)) {
          this.#end(t, new HoopError('grant_revoked', `the grant for ${t.connection} was revoked`, {
            hint: `run \`hoop connect ${t.connection}\` to ask for a new grant`,
          }));
          continue;
        }
        if (s) t.expiresAt = s.expiresAt;
        if (t.expiresAt.getTime() <= now) {
          this.#end(t, new HoopError('grant_expired', `the grant for ${t.connection} has expired`, {
            hint: `run \`hoop connect ${t.connection}\` to ask for a new grant`,
          }));
        }
      }
    } finally {
      this.#ticking = false;
    }
  }

  /** Ends every tracked tunnel (gateway shutdown). */
  terminateAll(reason: HoopError): void {
    for (const t of [...this.#tracked]) this.#end(t, reason);
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #end(t: Tracked, reason: HoopError): void {
    this.#tracked.delete(t);
    this.#o.logger.info('ending tunnel', { grant_id: t.grantId, connection: t.connection, reason: reason.code });
    t.terminate(reason);
  }
}
