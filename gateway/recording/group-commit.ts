/**
 * Group commit: writes queued by many sessions at once are flushed together in one transaction on one
 * dedicated connection, so throughput grows with concurrency instead of paying one commit per record.
 * A write's promise settles when its batch has committed (or failed): callers that must fail closed await it.
 */
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Database, Queryable } from '../store/db.js';

export type WriteOp = (q: Queryable) => Promise<void>;

interface Pending {
  op: WriteOp;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  db: Database;
  logger: Logger;
  /** Most ops in one transaction. */
  maxBatch?: number;
  /** Commit without waiting for the disk (for derived views only). */
  asynchronousCommit?: boolean;
}

export class GroupCommitWriter {
  readonly #o: GroupCommitOptions;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  constructor(options: GroupCommitOptions) {
    this.#o = options;
  }

  /** Queues a write; resolves once it is committed. Rejects with audit_unavailable when the store fails. */
  write(op: WriteOp): Promise<void> {
    if (this.#closed) return Promise.reject(new HoopError('audit_unavailable', 'the recorder is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.#kick();
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
    this.#flushing = this.#run().finally(() => {
      this.#flushing = undefined;
      this.#kick();
    });
  }

  async #run(): Promise<void> {
    const batch = this.#queue.splice(0, this.#o.maxBatch ?? 500);
    try {
      await this.#o.db.transaction(async (q) => {
        // These are query views derived from the audit chain (the evidence, committed durably on its own): they
        // need not wait for the disk, and must not make every statement pay for a second WAL flush.
        if (this.#o.asynchronousCommit) await q.query(`SET LOCAL synchronous_commit = off`);
        for (const p of batch) await p.op(q);
      });
      for (const p of batch) p.resolve();
    } catch (e) {
      this.#o.logger.error('recording failed', { error: e, batch: batch.length });
      const err = new HoopError('audit_unavailable', 'the audit store could not record; nothing was forwarded', {
        cause: e,
        hint: 'the gateway cannot reach its database; ask an operator to check it',
      });
      for (const p of batch) p.reject(err);
    }
  }
}
