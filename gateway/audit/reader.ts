/**
 * Reading the audit chain back exactly as it was hashed: records in pages (keyset pagination on seq),
 * checkpoints, payloads, and the retention that prunes payloads only.
 */
import type { JWK } from 'jose';
import type { AuditRecord, Checkpoint } from '../../shared/audit/record.js';
import type { Queryable } from '../store/db.js';

/** A timestamptz column as the record's time string (UTC, six fractional digits; see `auditTime`). */
export const TIME_TEXT = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface RecordRange {
  fromSeq?: number;
  toSeq?: number;
  /** Records at or after this time. */
  since?: Date;
  /** Records before this time. */
  until?: Date;
  /** Rows per query; default 1000. */
  pageSize?: number;
}

interface RecordRow {
  seq: string;
  v: number;
  time: string;
  type: string;
  actor: string | null;
  session_id: string | null;
  connection: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

// Queries select `seq::text AS seq` (bigint beyond 2^31 as text), so ORDER BY must name the table's column:
// a bare `seq` there means the text alias, and '9' sorts after '10'.
const RECORD_COLUMNS = `seq::text AS seq, v, ${TIME_TEXT('time')} AS time, type, actor, session_id::text AS session_id, connection, data, prev_hash, hash`;

function toRecord(row: RecordRow): AuditRecord {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(row.data) as Record<string, unknown>;
  } catch {
    // Stored text that is not JSON cannot be what was hashed: keep it visible, and let verification flag it.
    data = { $unparseable: row.data };
  }
  return {
    v: row.v as 1,
    seq: Number(row.seq),
    time: row.time,
    type: row.type,
    actor: row.actor,
    session_id: row.session_id,
    connection: row.connection,
    data,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * The seq interval of a time range: from the first record at or after `since` to the last one before `until`.
 * Records' times never go backwards along the chain (the writer ensures it), so the interval is the range.
 * Null when no record falls in it.
 */
export async function seqRangeForTime(db: Queryable, since: Date | undefined, until: Date | undefined): Promise<{ first: number; last: number } | null> {
  const first = await db.query<{ seq: string }>(
    'SELECT seq::text AS seq FROM audit_log WHERE ($1::timestamptz IS NULL OR time >= $1) ORDER BY audit_log.time, audit_log.seq LIMIT 1',
    [since ?? null],
  );
  const last = await db.query<{ seq: string }>(
    'SELECT seq::text AS seq FROM audit_log WHERE ($1::timestamptz IS NULL OR time < $1) ORDER BY audit_log.time DESC, audit_log.seq DESC LIMIT 1',
    [until ?? null],
  );
  const f = first.rows[0];
  const l = last.rows[0];
  if (!f || !l || Number(f.seq) > Number(l.seq)) return null;
  return { first: Number(f.seq), last: Number(l.seq) };
}

/**
 * Records in seq order, a page at a time. A time range is first turned into a seq interval
 * ({@link seqRangeForTime}), then intersected with `fromSeq`/`toSeq`.
 */
export async function* readRecords(db: Queryable, range: RecordRange = {}): AsyncGenerator<AuditRecord> {
  let from = range.fromSeq ?? 1;
  let to = range.toSeq ?? Number.MAX_SAFE_INTEGER;
  if (range.since || range.until) {
    const r = await seqRangeForTime(db, range.since, range.until);
    if (!r) return;
    from = Math.max(from, r.first);
    to = Math.min(to, r.last);
  }
  const page = range.pageSize ?? 1000;
  let after = from - 1;
  for (;;) {
    const rows = await db.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY audit_log.seq LIMIT $3`,
      [after, to, page],
    );
    for (const row of rows.rows) yield toRecord(row);
    const last = rows.rows[rows.rows.length - 1];
    if (!last || rows.rows.length < page) return;
    after = Number(last.seq);
  }
}

/** Checkpoints with `fromSeq <= seq <= toSeq`, in seq order. */
export async function readCheckpoints(db: Queryable, range: { fromSeq?: number; toSeq?: number } = {}): Promise<Checkpoint[]> {
  const rows = await db.query<{ seq: string; hash: string; time: string; kid: string; sig: string }>(
    `SELECT seq::text AS seq, hash, ${TIME_TEXT('time')} AS time, kid, sig FROM audit_checkpoints
      WHERE seq >= $1 AND seq <= $2 ORDER BY audit_checkpoints.seq`,
    [range.fromSeq ?? 0, range.toSeq ?? Number.MAX_SAFE_INTEGER],
  );
  return rows.rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, time: r.time, kid: r.kid, sig: r.sig }));
}

/** The last record's seq and hash, or null for an empty log. */
export async function readHead(db: Queryable): Promise<{ seq: number; hash: string; time: string } | null> {
  const rows = await db.query<{ seq: string; hash: string; time: string }>(
    `SELECT seq::text AS seq, hash, ${TIME_TEXT('time')} AS time FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1`,
  );
  const r = rows.rows[0];
  return r ? { seq: Number(r.seq), hash: r.hash, time: r.time } : null;
}

/** A record's payload, or undefined when it had none or retention pruned it. */
export async function readPayload(db: Queryable, seq: number): Promise<unknown> {
  const rows = await db.query<{ payload: string }>('SELECT payload FROM audit_payloads WHERE seq = $1', [seq]);
  const r = rows.rows[0];
  return r ? (JSON.parse(r.payload) as unknown) : undefined;
}

/** Retention: deletes the payloads of records older than `olderThan` (never records). Returns how many. */
export async function pruneOldPayloads(db: Queryable, olderThan: Date): Promise<number> {
  const r = await db.query(
    'DELETE FROM audit_payloads p USING audit_log l WHERE p.seq = l.seq AND l.time < $1',
    [olderThan],
  );
  return r.rowCount ?? 0;
}

/** Every Ed25519 public key the gateway has used (retired ones too: old checkpoints name them). */
export async function readPublicKeys(db: Queryable): Promise<JWK[]> {
  const rows = await db.query<{ public_jwk: JWK }>(
    "SELECT public_jwk FROM gateway_keys WHERE alg = 'EdDSA' ORDER BY created_at",
  );
  return rows.rows.map((r) => r.public_jwk);
}
