/**
 * Group commit for the query views (sessions, statements, grant decisions): writes queued by many sessions at
 * once are flushed together in one transaction, sent as **one** multi-statement query (one round trip per
 * batch, whatever its size). A write's promise settles when its batch has committed (or failed).
 *
 * If a batch fails, its writes are retried one by one, so that one bad write loses only itself.
 *
 * A write is a function that renders its SQL (literals only: see store/sql-literal.ts) when its batch is
 * flushed, not when it is queued. Until then the caller may still change what it will write: the recorder folds a
 * statement's outcome into its not-yet-written INSERT instead of queueing an UPDATE behind it.
 *
 * A write may also `linger`: wait up to `lingerMs` for company instead of leaving at the end of its tick (any
 * other write, a full batch or `flush` takes it along sooner). A statement's view row lingers, so a busy session's
 * rows share a transaction, and its outcome is usually folded in before it is written: one view transaction per
 * many statements instead of two per statement.
 */
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Database } from '../store/db.js';
import { onceThisTick } from '../store/once-this-tick.js';

/** Renders the write's SQL, one or more complete statements, each ending with `;`. */
export type RenderWrite = () => string;

interface Pending {
  render: RenderWrite;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  db: Database;
  logger: Logger;
  /** Most writes in one transaction. */
  maxBatch?: number;
  /** Commit without waiting for the disk (for derived views only). */
  asynchronousCommit?: boolean;
  /** How long a lingering write may wait for its batch; default 0 (it leaves at the end of its tick). */
  lingerMs?: number;
}

export interface WriteOptions {
  /** Wait up to `lingerMs` for other writes rather than starting a batch at the end of this tick. */
  linger?: boolean;
}

export class GroupCommitWriter {
  readonly #o: GroupCommitOptions;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  readonly #kickSoon = onceThisTick(() => this.#kick());
  #lingerTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: GroupCommitOptions) {
    this.#o = options;
  }

  /** Queues a write; resolves once it is committed. Rejects with audit_unavailable when the store fails. */
  write(render: RenderWrite, options: WriteOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new HoopError('audit_unavailable', 'the recorder is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ render, resolve, reject });
      const linger = this.#o.lingerMs ?? 0;
      if (options.linger && linger > 0 && this.#queue.length < (this.#o.maxBatch ?? 500)) {
        this.#lingerTimer ??= setTimeout(() => {
          this.#lingerTimer = undefined;
          this.#kick();
        }, linger);
        this.#lingerTimer.unref();
        return;
      }
      // Writes queued in the same tick go in one batch.
      this.#kickSoon();
    });
  }

  /** Waits until everything queued so far is written. */
  async flush(): Promise<void> {
    while (this.#flushing || this.#queue.length) {
      this.#kick();
      await this.#flushing;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  #kick(): void {
    if (this.#flushing || this.#queue.length === 0) return;
    // This batch takes every queued write, lingering ones too.
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#flushing = this.#run().finally(() => {
      this.#flushing = undefined;
      this.#kick();
    });
  }

  async #run(): Promise<void> {
    const batch = this.#queue.splice(0, this.#o.maxBatch ?? 500);
    let sqls: string[];
    try {
      sqls = batch.map((p) => p.render());
    } catch (e) {
      this.#fail(batch, e);
      return;
    }
    try {
      await this.#commit(sqls.join(' '));
      for (const p of batch) p.resolve();
      return;
    } catch (e) {
      if (batch.length === 1) {
        this.#fail(batch, e);
        return;
      }
      this.#o.logger.warn('a batch of recording writes failed; writing them one by one', { error: e, batch: batch.length });
    }
    // One bad write (or a lost connection) must not take its batch-mates from other sessions with it.
    for (const [i, p] of batch.entries()) {
      try {
        await this.#commit(sqls[i]!);
        p.resolve();
      } catch (e) {
        this.#fail([p], e);
      }
    }
  }

  async #commit(sql: string): Promise<void> {
    // These are query views derived from the audit chain (the evidence, committed durably on its own): they
    // need not wait for the disk, and must not make every statement pay for a second WAL flush.
    const sync = this.#o.asynchronousCommit ? ' SET LOCAL synchronous_commit = off;' : '';
    await this.#o.db.withClient(async (c) => {
      try {
        await c.simple(`BEGIN;${sync} ${sql} COMMIT;`);
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  #fail(writes: readonly Pending[], e: unknown): void {
    this.#o.logger.error('recording failed', { error: e, writes: writes.length });
    const err = new HoopError('audit_unavailable', 'the gateway could not write to its database', {
      cause: e,
      hint: 'the gateway cannot reach its database; ask an operator to check it',
    });
    for (const p of writes) p.reject(err);
  }
}
