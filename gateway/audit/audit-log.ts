/**
 * The PostgreSQL-backed audit chain. `append` resolves only once its record is committed; callers that must
 * fail closed await it, and it rejects with `audit_unavailable` when the store cannot record.
 *
 * Group commit, with a twist the generic writer (recording/group-commit.ts) cannot offer: while a batch is
 * being written, new appends queue; the next batch takes them all (up to `maxBatch`) in one transaction that
 *   1. takes a transaction-level advisory lock, so several gateway instances on one database keep one order;
 *   2. reads the head (seq, hash, time);
 *   3. stamps seq, time (never before the head's) and prev_hash, and hashes each record in order;
 *   4. inserts them with one multi-row INSERT (unnest), their payloads with another, and commits.
 */
import { createHash } from 'node:crypto';
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import pg from 'pg';
import { canonicalize } from '../../shared/audit/canonical.js';
import { auditTime, GENESIS_HASH, hashRecordWithDataText } from '../../shared/audit/record.js';
import type { Database } from '../store/db.js';
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
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

function invalid(message: string, cause?: unknown): HoopError {
  return new HoopError('internal', `cannot audit this event: ${message}`, { cause, hint: 'this is a bug in the code that emits the event' });
}

function checkText(name: string, v: unknown): void {
  if (v !== null && typeof v !== 'string') throw invalid(`${name} must be a string or null`);
  if (typeof v === 'string' && v.includes('\u0000')) throw invalid(`${name} contains a NUL character (PostgreSQL text cannot hold it)`);
}

/** Validates and serialises an event up front, so one bad event fails alone instead of its whole batch. */
function prepare(e: AuditEvent): Omit<Pending, 'resolve' | 'reject' | 'timer' | 'settled'> {
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
    const data = payloadText === null ? e.data : { ...e.data, payload_sha256: createHash('sha256').update(payloadText, 'utf8').digest('hex') };
    return { type: e.type, actor: e.actor, sessionId: sessionId?.toLowerCase() ?? null, connection, dataText: canonicalize(data), payloadText };
  } catch (err) {
    throw invalid('it is not plain JSON', err);
  }
}

export class AuditLog implements AuditAppender {
  readonly #o: AuditLogOptions;
  readonly #log: Logger;
  readonly #now: () => Date;
  #queue: Pending[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: AuditLogOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'audit-log' });
    this.#now = options.now ?? (() => new Date());
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
      const p: Pending = { ...prepared, resolve, reject, timer: undefined, settled: false };
      const timeout = this.#o.timeoutMs ?? 15_000;
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          const i = this.#queue.indexOf(p);
          if (i >= 0) this.#queue.splice(i, 1); // never written
          settle(p, unavailable(new Error(`no commit within ${timeout} ms`)));
        }, timeout);
        p.timer.unref();
      }
      this.#queue.push(p);
      this.#kick();
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
      this.#kick();
    });
  }

  async #writeBatch(): Promise<void> {
    const batch = this.#queue.splice(0, this.#o.maxBatch ?? 500);
    let results: Appended[];
    try {
      results = await this.#o.db.withClient(async (c) => {
        try {
          // One round trip to open the transaction, take the lock and read the head; one to insert; one to commit.
          const sync = (this.#o.synchronousCommit ?? true) ? 'on' : 'off';
          const [, , head] = await c.simple(
            `BEGIN; SELECT set_config('synchronous_commit', '${sync}', true), pg_advisory_xact_lock(${AUDIT_LOCK_KEY}); `
            + `SELECT seq::text AS seq, hash, ${TIME_TEXT('time')} AS time FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1`,
          );
          const { out, sql } = this.#insertSql(batch, head!.rows[0] as { seq: string; hash: string; time: string } | undefined);
          // The inserts and the commit in one round trip (literals, escaped: no parameters in a multi-statement query).
          await c.simple(`${sql} COMMIT;`);
          return out;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      });
    } catch (e) {
      this.#log.error('the audit store could not record; failing closed', { err: e, batch: batch.length });
      const err = unavailable(e);
      for (const p of batch) settle(p, err);
      return;
    }
    batch.forEach((p, i) => settle(p, results[i]!));
    this.#o.checkpointer?.noteAppended(batch.length);
  }

  /**
   * Numbers, links and renders the inserts of a batch after the head `h` (read as a statement of its own after
   * the lock: in READ COMMITTED its snapshot sees the previous batch's commit, from any instance).
   */
  #insertSql(batch: readonly Pending[], h: { seq: string; hash: string; time: string } | undefined): { out: Appended[]; sql: string } {
    let seq = h ? Number(h.seq) : 0;
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
    return { out, sql };
  }
}

/** A SQL literal (standard_conforming_strings is on in every supported PostgreSQL; E'' handles backslashes anyway). */
function lit(v: string | null): string {
  return v === null ? 'NULL' : pg.escapeLiteral(v);
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
  if (p.timer) clearTimeout(p.timer);
  if (outcome instanceof HoopError) p.reject(outcome);
  else p.resolve(outcome);
}
