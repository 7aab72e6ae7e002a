/**
 * Signs checkpoints of the audit chain: `{ seq, hash, time }` of the head, Ed25519 with the gateway's signing
 * key, every N appended records or T milliseconds when the head has moved, and once at shutdown.
 *
 * The head is read from the database, so each instance signs the one chain all instances share; two instances
 * signing the same head store one checkpoint (the seq is the key).
 */
import type { Logger } from '../../shared/log.js';
import { auditTime, signCheckpoint, type Checkpoint } from '../../shared/audit/record.js';
import type { SigningKey } from '../grants/signing-key.js';
import type { Database } from '../store/db.js';
import { readHead } from './reader.js';

export interface CheckpointerOptions {
  db: Database;
  key: SigningKey;
  logger: Logger;
  now?: () => Date;
  /** Sign after this many records appended through this instance; default 1000. */
  everyRecords?: number;
  /** Sign this often when the head moved; default 60 000 ms. 0 disables the timer. */
  everyMs?: number;
}

export class Checkpointer {
  readonly #o: CheckpointerOptions;
  readonly #log: Logger;
  readonly #now: () => Date;
  #sinceLast = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<Checkpoint | null> | undefined;
  #closed = false;

  constructor(options: CheckpointerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'audit-checkpointer' });
    this.#now = options.now ?? (() => new Date());
  }

  /** Starts the timer (idempotent). */
  start(): void {
    const every = this.#o.everyMs ?? 60_000;
    if (this.#timer || this.#closed || every <= 0) return;
    this.#timer = setInterval(() => this.#background(), every);
    this.#timer.unref();
  }

  /** Told by the audit log after each committed batch. */
  noteAppended(records: number): void {
    this.#sinceLast += records;
    if (this.#sinceLast >= (this.#o.everyRecords ?? 1000)) this.#background();
  }

  /**
   * Signs the current head unless a checkpoint already covers it. Returns the new checkpoint, or null.
   * Calls are serialised: a call while one runs waits for it, then checks again.
   */
  async checkpoint(): Promise<Checkpoint | null> {
    while (this.#running) await this.#running.catch(() => undefined);
    const run = this.#sign();
    this.#running = run;
    try {
      return await run;
    } finally {
      if (this.#running === run) this.#running = undefined;
    }
  }

  /** Stops the timer and signs the final head. Idempotent. */
  async close(): Promise<Checkpoint | null> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return null;
    this.#closed = true;
    return this.checkpoint();
  }

  #background(): void {
    if (this.#running) return;
    this.checkpoint().catch((err: unknown) => this.#log.warn('could not sign an audit checkpoint; will retry', { err }));
  }

  async #sign(): Promise<Checkpoint | null> {
    this.#sinceLast = 0;
    const { db, key } = this.#o;
    const head = await readHead(db);
    if (!head) return null;
    const latest = await db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_checkpoints ORDER BY audit_checkpoints.seq DESC LIMIT 1');
    const latestSeq = latest.rows[0] ? Number(latest.rows[0].seq) : 0;
    if (latestSeq >= head.seq) return null;
    const cp = signCheckpoint({ seq: head.seq, hash: head.hash, time: auditTime(this.#now()) }, key.privateKey, key.kid);
    const inserted = await db.query(
      `INSERT INTO audit_checkpoints (seq, hash, time, kid, sig) VALUES ($1, $2, $3::timestamptz, $4, $5) ON CONFLICT (seq) DO NOTHING`,
      [cp.seq, cp.hash, cp.time, cp.kid, cp.sig],
    );
    if (inserted.rowCount === 0) return null; // another instance signed this head first
    this.#log.debug('signed an audit checkpoint', { seq: cp.seq });
    return cp;
  }
}
