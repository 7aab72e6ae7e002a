/**
 * The PostgreSQL-backed audit chain. `append` resolves only once its record is committed; callers that must
 * fail closed await it, and it rejects with `audit_unavailable` when the store cannot record.
 *
 * Group commit, with a twist the generic writer (recording/group-commit.ts) cannot offer: while a batch is
 * being written, new appends queue; the next batch takes them all (up to `maxBatch`) in one transaction that
 *   1. takes a transaction-level advisory lock, so several gateway instances on one database keep one order;
 *   2. reads the head (seq, hash, time), or, when this instance wrote the head, only checks that it has not moved
 *      (`hoop_audit_expect_head`), which saves a round trip;
 *   3. stamps seq, time (never before the head's) and prev_hash, and hashes each record in order;
 *   4. inserts them with one multi-row INSERT, their payloads with another, and commits.
 */
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { canonicalize } from '../../shared/audit/canonical.js';
import { auditTime, GENESIS_HASH, hashRecordWithDataText, sha256hex } from '../../shared/audit/record.js';
import type { Database } from '../store/db.js';
import { sqlLiteral as lit } from '../store/sql-literal.js';
import { onceThisTick } from '../store/once-this-tick.js';
import type { AuditLogObserver } from '../metrics/gateway-metrics.js';
import type { Checkpointer } from './checkpointer.js';
import { TIME_TEXT } from './reader.js';

export interface AuditEvent {
  /** e.g. `grant.issued`, `statement`, `session.opened`. */
  type: string;
  actor: string | null;
  /** A UUID (stored lowercased). */
  session_id?: string | null;
  connection?: string | null;
  /** Plain JSON (see shared/audit/canonical.ts). */
  data: Record<string, unknown>;
  /** Bulky data retention may prune (returned rows). The record keeps only `data.payload_sha256`. */
  payload?: unknown;
}

export interface Appended {
  seq: number;
  hash: string;
}

/** What the rest of the gateway depends on (engines are tested with an in-memory one). */
export interface AuditAppender {
  append(event: AuditEvent): Promise<Appended>;
}

export interface AuditLogOptions {
  db: Database;
  logger: Logger;
  now?: () => Date;
  /** Most records per transaction; default 500. */
  maxBatch?: number;
  /** `synchronous_commit` for the batch transaction; default true (a commit survives a server crash). */
  synchronousCommit?: boolean;
  /**
   * How long an append may wait for its commit before it fails closed; default 15 000 ms, 0 for no limit.
   * An append still queued at its deadline is never written; one whose batch is already in flight may still
   * commit (recorded, though reported as failed: the safe side for a statement that is then not forwarded).
   */
  timeoutMs?: number;
  /** Told of each committed batch; closed (final checkpoint) by `close`. */
  checkpointer?: Checkpointer;
  /** Told of each batch committed or failed, with how long its records waited (the gateway's metrics). */
  observer?: AuditLogObserver;
}

/** Arbitrary but fixed for every instance: "hoop" then 2 (distinct from the migration lock). */
export const AUDIT_LOCK_KEY = 0x686f6f70_0002;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Pending {
  type: string;
  actor: string | null;
  sessionId: string | null;
  connection: string | null;
  dataText: string;
  payloadText: string | null;
  resolve: (a: Appended) => void;
  reject: (e: unknown) => void;
  /** When the append fails closed if not yet committed (ms since the epoch); Infinity for no limit. */
  deadline: number;
  /** When it was appended (`performance.now()`), for the observer. */
  appendedAt: number;
  settled: boolean;
}

/** The chain's last record as this instance wrote it. */
interface Head {
  seq: number;
  hash: string;
  time: string;
}

/** Raised by `hoop_audit_expect_head` (migration 4) when another writer moved the head. */
const HEAD_MOVED = 'HA001';

function invalid(message: string, cause?: unknown): HoopError {
  return new HoopError('internal', `cannot audit this event: ${message}`, { cause, hint: 'this is a bug in the code that emits the event' });
}

function checkText(name: string, v: unknown): void {
  if (v !== null && typeof v !== 'string') throw invalid(`${name} must be a string or null`);
  if (typeof v === 'string' && v.includes('\u0000')) throw invalid(`${name} contains a NUL character (PostgreSQL text cannot hold it)`);
}

/** Validates and serialises an event up front, so one bad event fails alone instead of its whole batch. */
function prepare(e: AuditEvent): Omit<Pending, 'resolve' | 'reject' | 'deadline' | 'appendedAt' | 'settled'> {
  if (typeof e.type !== 'string' || e.type === '') throw invalid('type must be a non-empty string');
  if (typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) throw invalid('data must be an object');
  if (e.payload !== undefined && 'payload_sha256' in e.data) throw invalid('data already has payload_sha256, which the log sets');
  const sessionId = e.session_id ?? null;
  if (sessionId !== null && !UUID.test(sessionId)) throw invalid(`session_id ${JSON.stringify(sessionId)} is not a UUID`);
  const connection = e.connection ?? null;
  checkText('type', e.type);
  checkText('actor', e.actor);
  checkText('connection', connection);
  try {
    canonicalize([e.type, e.actor, connection]);
    const payloadText = e.payload === undefined ? null : canonicalize(e.payload);
    // payload_sha256 is `payloadDigest(payload)`: the SHA-256 of exactly the text stored in audit_payloads.
    const data = payloadText === null ? e.data : { ...e.data, payload_sha256: sha256hex(payloadText) };
    return { type: e.type, actor: e.actor, sessionId: sessionId?.toLowerCase() ?? null, connection, dataText: canonicalize(data), payloadText };
  } catch (err) {
    throw invalid('it is not plain JSON', err);
  }
}

export class AuditLog implements AuditAppender {
  readonly #o: AuditLogOptions;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #timeoutMs: number;
  #queue: Pending[] = [];
  /** The batch being written, so that the deadline timer can fail it closed too. */
  #inFlight: readonly Pending[] = [];
  #writing: Promise<void> | undefined;
  readonly #kickSoon = onceThisTick(() => this.#kick());
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** The head as of this instance's last commit; null when it must be read (first batch, or after a failure). */
  #head: Head | null = null;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: AuditLogOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'audit-log' });
    this.#now = options.now ?? (() => new Date());
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  /**
   * Appends one record; resolves with its seq and hash once committed.
   * @throws HoopError `audit_unavailable` when the store cannot record (or the log is closed);
   *   `internal` when the event itself cannot be recorded (not plain JSON, bad session id).
   */
  append(event: AuditEvent): Promise<Appended> {
    if (this.#closed) return Promise.reject(new HoopError('audit_unavailable', 'the audit log is closed'));
    let prepared: ReturnType<typeof prepare>;
    try {
      prepared = prepare(event);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<Appended>((resolve, reject) => {
      const deadline = this.#timeoutMs > 0 ? Date.now() + this.#timeoutMs : Infinity;
      this.#queue.push({ ...prepared, resolve, reject, deadline, appendedAt: performance.now(), settled: false });
      this.#armDeadline();
      // Appends made in the same tick (a statement and the previous statement's result) share one batch.
      this.#kickSoon();
    });
  }

  /** Waits until everything queued so far is committed (or failed). */
  async flush(): Promise<void> {
    while (this.#writing || this.#queue.length > 0) {
      this.#kick();
      await this.#writing;
    }
  }

  /** Refuses further appends, writes what is queued, then signs the final checkpoint. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return (this.#closing ??= (async () => {
      await this.flush();
      await this.#o.checkpointer?.close();
    })());
  }

  #kick(): void {
    if (this.#writing || this.#queue.length === 0) return;
    this.#writing = this.#writeBatch().finally(() => {
      this.#writing = undefined;
      this.#inFlight = [];
      this.#kick();
    });
  }

  /**
   * One timer for every pending append (not one each): deadlines grow in queue order, so the earliest is the
   * first unsettled append of the batch in flight, or else the head of the queue.
   */
  #armDeadline(): void {
    if (this.#deadlineTimer || this.#timeoutMs <= 0) return;
    const first = this.#inFlight.find((p) => !p.settled) ?? this.#queue[0];
    if (!first) return;
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      this.#expire();
    }, Math.max(0, first.deadline - Date.now()));
    this.#deadlineTimer.unref();
  }

  #expire(): void {
    const now = Date.now();
    const err = (): HoopError => unavailable(new Error(`no commit within ${this.#timeoutMs} ms`));
    // In flight: may still commit (recorded, though reported as failed: the safe side for a statement that is
    // then not forwarded). Queued: never written.
    for (const p of this.#inFlight) if (!p.settled && p.deadline <= now) settle(p, err());
    let n = 0;
    while (n < this.#queue.length && this.#queue[n]!.deadline <= now) settle(this.#queue[n++]!, err());
    if (n > 0) this.#queue.splice(0, n);
    this.#armDeadline();
  }

  async #writeBatch(): Promise<void> {
    const batch = this.#queue.splice(0, this.#o.maxBatch ?? 500);
    this.#inFlight = batch;
    let results: Appended[];
    try {
      results = await this.#o.db.withClient(async (c) => {
        const sync = (this.#o.synchronousCommit ?? true) ? 'on' : 'off';
        const begin = `BEGIN; SELECT set_config('synchronous_commit', '${sync}', true), pg_advisory_xact_lock(${AUDIT_LOCK_KEY});`;
        try {
          const known = this.#head;
          if (known) {
            // One round trip: lock, check that the head is still ours, insert, commit.
            const { out, sql, head } = this.#insertSql(batch, known);
            try {
              await c.simple(`${begin} SELECT hoop_audit_expect_head(${known.seq}, ${lit(known.hash)}); ${sql} COMMIT;`);
              this.#head = head;
              return out;
            } catch (e) {
              if ((e as { code?: string }).code !== HEAD_MOVED) throw e;
              await c.query('ROLLBACK');
            }
          }
          // Two round trips: open the transaction, take the lock and read the head; then insert and commit.
          const [, , read] = await c.simple(
            `${begin} SELECT seq::text AS seq, hash, ${TIME_TEXT('time')} AS time FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1`,
          );
          const row = read!.rows[0] as { seq: string; hash: string; time: string } | undefined;
          const { out, sql, head } = this.#insertSql(batch, row ? { seq: Number(row.seq), hash: row.hash, time: row.time } : null);
          // Literals, escaped: a multi-statement query takes no parameters.
          await c.simple(`${sql} COMMIT;`);
          this.#head = head;
          return out;
        } catch (e) {
          this.#head = null;
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      });
    } catch (e) {
      this.#log.error('the audit store could not record; failing closed', { err: e, batch: batch.length });
      const err = unavailable(e);
      for (const p of batch) settle(p, err);
      this.#o.observer?.batchFailed(batch.length);
      return;
    }
    batch.forEach((p, i) => settle(p, results[i]!));
    this.#o.checkpointer?.noteAppended(batch.length);
    if (this.#o.observer) {
      const at = performance.now();
      this.#o.observer.batchCommitted(batch.map((p) => at - p.appendedAt));
    }
  }

  /**
   * Numbers, links and renders the inserts of a batch after the head `h` (read after the lock: in READ
   * COMMITTED a statement's snapshot sees the previous batch's commit, from any instance).
   */
  #insertSql(batch: readonly Pending[], h: Head | null): { out: Appended[]; sql: string; head: Head } {
    let seq = h ? h.seq : 0;
    let prev = h ? h.hash : GENESIS_HASH;
    const stamped = auditTime(this.#now());
    // Times never go backwards along the chain, so a time range is a seq range (clocks of instances may differ).
    const time = h && h.time > stamped ? h.time : stamped;
    const rows: string[] = [];
    const payloads: string[] = [];
    const out: Appended[] = [];
    for (const p of batch) {
      seq += 1;
      const hash = hashRecordWithDataText(
        { v: 1, seq, time, type: p.type, actor: p.actor, session_id: p.sessionId, connection: p.connection, prev_hash: prev },
        p.dataText,
      );
      rows.push(`(${seq}, ${lit(time)}::timestamptz, ${lit(p.type)}, ${lit(p.actor)}, ${lit(p.sessionId)}::uuid, ${lit(p.connection)}, ${lit(p.dataText)}, ${lit(prev)}, ${lit(hash)})`);
      if (p.payloadText !== null) payloads.push(`(${seq}, ${lit(p.payloadText)})`);
      out.push({ seq, hash });
      prev = hash;
    }
    let sql = `INSERT INTO audit_log (seq, time, type, actor, session_id, connection, data, prev_hash, hash) VALUES ${rows.join(', ')};`;
    if (payloads.length) sql += ` INSERT INTO audit_payloads (seq, payload) VALUES ${payloads.join(', ')};`;
    return { out, sql, head: { seq, hash: prev, time } };
  }
}

function unavailable(cause: unknown): HoopError {
  return new HoopError('audit_unavailable', 'the audit store could not record; nothing was forwarded', {
    cause,
    hint: 'the gateway cannot write to its database; ask an operator to check it',
  });
}

function settle(p: Pending, outcome: Appended | HoopError): void {
  if (p.settled) return;
  p.settled = true;
  if (outcome instanceof HoopError) p.reject(outcome);
  else p.resolve(outcome);
}
