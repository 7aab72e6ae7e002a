/** Reads recorded sessions and statements for `hoop sessions`. Non-privileged callers see only their own. */
import { HoopError } from '../../shared/errors.js';
import { parseSince } from '../../shared/duration.js';
import type { SessionDetail, SessionSummary, StatementRecord } from '../../shared/api/schemas.js';
import type { Queryable } from '../store/db.js';

export interface SessionFilter {
  connection?: string | undefined;
  user?: string | undefined;
  since?: string | undefined;
  grant?: string | undefined;
  /** blocked | approved | masked | rejected | pending | timeout: sessions with at least one such statement. */
  decision?: string | undefined;
  /** Sessions with a statement whose text contains this (case-insensitive). */
  text?: string | undefined;
  limit?: number | undefined;
  /** Restricts to this subject (callers who are neither admin nor auditor). */
  onlySubject?: string | undefined;
}

interface SessionRow {
  id: string; connection: string; subject: string; grant_id: string | null; client_application: string | null;
  client_user: string | null; database: string | null; started_at: Date; ended_at: Date | null; end_reason: string | null;
  bytes_from_client: string; bytes_to_client: string; statement_count: number; live_count: string;
  identity: Record<string, unknown> | null;
}

/** The identity the grant was issued to, as recorded with the grant decision (claims only, never tokens). */
const IDENTITY = `(SELECT d.details FROM grant_decisions d WHERE d.grant_id = s.grant_id AND d.outcome = 'issued' ORDER BY d.id LIMIT 1) AS identity`;

export async function listSessions(db: Queryable, f: SessionFilter, now: Date): Promise<SessionSummary[]> {
  if (f.limit !== undefined && !(Number.isInteger(f.limit) && f.limit >= 1 && f.limit <= 1000)) {
    throw new HoopError('usage', `limit ${String(f.limit)} is not a whole number from 1 to 1000`);
  }
  for (const [name, v] of Object.entries({ connection: f.connection, user: f.user, text: f.text, since: f.since })) {
    // PostgreSQL text cannot hold NUL: say so instead of failing in the database.
    if (v?.includes('\u0000')) throw new HoopError('usage', `${name} contains a NUL character`);
  }
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown): void => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.onlySubject !== undefined) add('s.subject = ?', f.onlySubject);
  if (f.user) add('s.subject = ?', f.user);
  if (f.connection) add('s.connection = ?', f.connection);
  if (f.grant) {
    if (!/^[0-9a-f-]{36}$/i.test(f.grant)) throw new HoopError('usage', `"${f.grant}" is not a grant id`);
    add('s.grant_id = ?', f.grant);
  }
  if (f.since) add('s.started_at >= ?', sinceToDate(f.since, now));
  if (f.decision) {
    const decisions: Record<string, string> = { blocked: 'block', approved: 'approved', rejected: 'rejected', pending: 'pending', timeout: 'timeout' };
    if (f.decision === 'masked') where.push(`EXISTS (SELECT 1 FROM statements t WHERE t.session_id = s.id AND t.details ? 'masking')`);
    else if (decisions[f.decision]) add('EXISTS (SELECT 1 FROM statements t WHERE t.session_id = s.id AND t.decision = ?)', decisions[f.decision]);
    else throw new HoopError('usage', `unknown decision "${f.decision}"`, { hint: 'use blocked, approved, rejected, pending, timeout or masked' });
  }
  if (f.text) add(`EXISTS (SELECT 1 FROM statements t WHERE t.session_id = s.id AND t.text ILIKE '%' || ? || '%')`, f.text);
  params.push(f.limit ?? 50);
  const res = await db.query<SessionRow>(
    `SELECT s.*, (SELECT count(*) FROM statements t WHERE t.session_id = s.id) AS live_count, ${IDENTITY}
       FROM sessions s ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY s.started_at DESC LIMIT $${params.length}`,
    params,
  );
  return res.rows.map(toSummary);
}

export async function getSession(db: Queryable, id: string, onlySubject: string | undefined): Promise<SessionDetail> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new HoopError('not_found', `no session ${id}`);
  const s = await db.query<SessionRow>(
    `SELECT s.*, (SELECT count(*) FROM statements t WHERE t.session_id = s.id) AS live_count, ${IDENTITY} FROM sessions s WHERE id = $1`,
    [id],
  );
  const row = s.rows[0];
  if (!row || (onlySubject !== undefined && row.subject !== onlySubject)) throw new HoopError('not_found', `no session ${id}`);
  const st = await db.query<{
    seq: number; text: string; parameters: (string | null)[] | null; protocol: 'simple' | 'extended'; started_at: Date;
    duration_ms: number | null; rows: string | null; command_tag: string | null; error_code: string | null;
    error_message: string | null; decision: string;
  }>('SELECT * FROM statements WHERE session_id = $1 ORDER BY seq', [id]);
  const statements: StatementRecord[] = st.rows.map((r) => ({
    seq: r.seq,
    text: r.text,
    parameters: r.parameters,
    protocol: r.protocol,
    started_at: r.started_at.toISOString(),
    duration_ms: r.duration_ms,
    rows: r.rows === null ? null : Number(r.rows),
    command_tag: r.command_tag,
    error_code: r.error_code,
    error_message: r.error_message,
    decision: r.decision,
  }));
  return { session: toSummary(row), statements };
}

function toSummary(r: SessionRow): SessionSummary {
  return {
    id: r.id,
    connection: r.connection,
    subject: r.subject,
    grant_id: r.grant_id,
    client_application: r.client_application,
    client_user: r.client_user,
    database: r.database,
    started_at: r.started_at.toISOString(),
    ended_at: r.ended_at ? r.ended_at.toISOString() : null,
    end_reason: r.end_reason,
    bytes_from_client: Number(r.bytes_from_client),
    bytes_to_client: Number(r.bytes_to_client),
    // A live session's counter is written at its end; count its rows meanwhile.
    statement_count: Math.max(r.statement_count, Number(r.live_count)),
    identity: r.identity ? identityOf(r.identity) : null,
  };
}

/** "24h" (relative) or an ISO timestamp; the usage error's hint names both (shared with the CLI's own check). */
export function sinceToDate(since: string, now: Date): Date {
  return parseSince(since, now, 'since');
}

function identityOf(details: Record<string, unknown>): { kind: string; claims: Record<string, unknown> } {
  const { kind, groups: _groups, expires_at: _expires, ...claims } = details;
  return { kind: typeof kind === 'string' ? kind : 'user', claims };
}
