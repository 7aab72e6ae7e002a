/**
 * Records sessions and statements in the gateway's PostgreSQL. The start of a statement is written before the
 * statement is forwarded (fail closed: if it cannot be written, it is not run); its outcome follows.
 */
import type { Database } from '../store/db.js';
import type { Logger } from '../../shared/log.js';
import type { GrantAudit } from '../grants/grant-service.js';
import { GroupCommitWriter } from './group-commit.js';
import { sqlLiteral, sqlRow } from '../store/sql-literal.js';
import type { AuditAppender, AuditEvent } from '../audit/audit-log.js';
import type { RecordingObserver } from '../metrics/gateway-metrics.js';

/** How long a result record may wait for the next statement's batch. */
const RESULT_DELAY_MS = 20;
/**
 * How long a statement's view row may wait for others (and for its outcome) before it is written. The view is a
 * query aid behind the audit chain; 20 ms late is not visible to anyone, and it saves two transactions per
 * statement on the gateway's database.
 */
const VIEW_LINGER_MS = 20;

export interface SessionStart {
  id: string;
  connection: string;
  subject: string;
  grantId: string | null;
  clientApplication: string | null;
  clientUser: string | null;
  database: string | null;
  clientAddr: string | null;
  startedAt: Date;
}

export interface SessionEnd {
  endedAt: Date;
  reason: string;
  bytesFromClient: number;
  bytesToClient: number;
  statementCount: number;
}

export interface StatementStart {
  sessionId: string;
  seq: number;
  text: string;
  parameters: (string | null)[] | null;
  protocol: 'simple' | 'extended';
  startedAt: Date;
  decision: string;
  details?: Record<string, unknown> | null;
}

export interface StatementOutcome {
  sessionId: string;
  seq: number;
  durationMs: number | null;
  rows: number | null;
  commandTag: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** Merged into the statement's details (e.g. the masking summary). */
  details?: Record<string, unknown> | null;
  /** What the client received (after masking): a capped sample, the true row count and a digest of all of it. */
  result?: ReturnedData | null;
}

export interface ReturnedData {
  columns: string[];
  rows: (string | null)[][];
  rowCount: number;
  truncated: boolean;
  /** SHA-256 (hex) over every DataRow or CopyData frame forwarded for the statement, as forwarded. */
  digest: string;
}

/** What engines need from recording (an interface, so engines can be tested with an in-memory one). */
export interface SessionRecorder {
  sessionStarted(s: SessionStart): Promise<void>;
  statementStarted(s: StatementStart): Promise<void>;
  statementFinished(o: StatementOutcome): Promise<void>;
  sessionEnded(id: string, e: SessionEnd): Promise<void>;
}

/**
 * Writes every event twice: to the tamper-evident audit chain (the evidence, appended before the caller goes on
 * where failing closed matters) and to the sessions/statements/grant_decisions tables (views for queries).
 */
export class PostgresRecorder implements SessionRecorder, GrantAudit {
  readonly #writer: GroupCommitWriter;
  readonly #audit: AuditAppender;
  readonly #logger: Logger;
  readonly #sessions = new Map<string, { subject: string; connection: string }>();
  /** Statements whose view row is queued but not yet rendered: their outcome is folded into the INSERT. */
  readonly #unwritten = new Map<string, UnwrittenStatement>();
  /**
   * Result records wait briefly so they ride in the same audit batch as the next statement's record (one commit
   * per statement instead of two); they are flushed by that statement, or after {@link RESULT_DELAY_MS}.
   */
  #pendingResults: { event: AuditEvent; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #resultTimer: NodeJS.Timeout | undefined;
  readonly #observer: RecordingObserver | undefined;

  constructor(opts: { db: Database; logger: Logger; audit: AuditAppender; observer?: RecordingObserver }) {
    this.#writer = new GroupCommitWriter({ db: opts.db, logger: opts.logger, asynchronousCommit: true, lingerMs: VIEW_LINGER_MS });
    this.#audit = opts.audit;
    this.#logger = opts.logger;
    this.#observer = opts.observer;
  }

  /** Appends any other security event (reviews, audit reads, configuration) to the chain. */
  async event(type: string, actor: string | null, data: Record<string, unknown>, extra: { connection?: string | null; sessionId?: string | null } = {}): Promise<void> {
    await this.#audit.append({ type, actor, connection: extra.connection ?? null, session_id: extra.sessionId ?? null, data });
  }

  /** Resolves once the session is in the chain (fail closed); the sessions view is written behind it, in order. */
  async sessionStarted(s: SessionStart): Promise<void> {
    this.#sessions.set(s.id, { subject: s.subject, connection: s.connection });
    this.#writer.write(() => `INSERT INTO sessions (id, connection, subject, grant_id, client_application, client_user, database, client_addr, started_at)
      VALUES ${sqlRow([s.id, s.connection, s.subject, s.grantId, s.clientApplication, s.clientUser, s.database, s.clientAddr, s.startedAt])};`)
      .catch((e: unknown) => this.#logger.warn('cannot write the sessions view', { error: e }));
    try {
      await this.#audit.append({
        type: 'session.opened', actor: s.subject, session_id: s.id, connection: s.connection,
        data: { grant_id: s.grantId, client_application: s.clientApplication, client_user: s.clientUser, database: s.database, client_addr: s.clientAddr },
      });
    } catch (e) {
      // The session does not start, and no end will be recorded for it.
      this.#sessions.delete(s.id);
      throw e;
    }
    this.#observer?.sessionStarted(s.connection);
  }

  /**
   * Resolves once the statement is in the chain: only then may it be forwarded (fail closed). The query view
   * (statements table) is written behind it, off the statement's path.
   */
  async statementStarted(s: StatementStart): Promise<void> {
    const who = this.#sessions.get(s.sessionId);
    if (who) this.#observer?.statementStarted(who.connection, s.decision);
    const key = `${s.sessionId}:${s.seq}`;
    const row: UnwrittenStatement = { start: s, outcome: null, written: Promise.resolve() };
    this.#unwritten.set(key, row);
    row.written = this.#writer.write(() => {
      this.#unwritten.delete(key);
      return insertStatementSql(row);
    }, { linger: true });
    row.written.catch((e: unknown) => {
      this.#unwritten.delete(key);
      this.#logger.warn('cannot write the statements view', { error: e });
    });
    this.#flushResults();
    await this.#audit.append({
      type: 'statement', actor: who?.subject ?? null, session_id: s.sessionId, connection: who?.connection ?? null,
      data: { seq: s.seq, text: s.text, parameters: s.parameters, protocol: s.protocol, decision: s.decision, ...(s.details ? { details: s.details } : {}) },
    });
  }

  async statementFinished(o: StatementOutcome): Promise<void> {
    const who = this.#sessions.get(o.sessionId);
    const returned = o.result
      ? { row_count: o.result.rowCount, digest: o.result.digest, captured_rows: o.result.rows.length, truncated: o.result.truncated }
      : null;
    const details = { ...(o.details ?? {}), ...(returned ? { returned } : {}) };
    const unwritten = this.#unwritten.get(`${o.sessionId}:${o.seq}`);
    let projection: Promise<void>;
    if (unwritten) {
      unwritten.outcome = { o, details };
      projection = unwritten.written;
    } else {
      projection = this.#writer.write(() => updateStatementSql(o, details), { linger: true });
    }
    const evidence = new Promise<void>((resolve, reject) => {
      this.#pendingResults.push({
        resolve, reject,
        event: {
          type: 'statement.result', actor: who?.subject ?? null, session_id: o.sessionId, connection: who?.connection ?? null,
          data: {
            seq: o.seq, duration_ms: o.durationMs, rows: o.rows, command_tag: o.commandTag, error_code: o.errorCode, error_message: o.errorMessage,
            ...details,
          },
          ...(o.result ? { payload: { columns: o.result.columns, rows: o.result.rows } } : {}),
        },
      });
      this.#resultTimer ??= setTimeout(() => this.#flushResults(), RESULT_DELAY_MS);
      this.#resultTimer.unref();
    });
    await Promise.all([evidence, projection]);
  }

  #flushResults(): void {
    if (this.#resultTimer) clearTimeout(this.#resultTimer);
    this.#resultTimer = undefined;
    for (const p of this.#pendingResults.splice(0)) this.#audit.append(p.event).then(() => p.resolve(), p.reject);
  }

  async sessionEnded(id: string, e: SessionEnd): Promise<void> {
    this.#flushResults();
    const who = this.#sessions.get(id);
    this.#sessions.delete(id);
    if (who) this.#observer?.sessionEnded(who.connection);
    await Promise.all([
      this.#audit.append({
        type: 'session.closed', actor: who?.subject ?? null, session_id: id, connection: who?.connection ?? null,
        data: { reason: e.reason, bytes_from_client: e.bytesFromClient, bytes_to_client: e.bytesToClient, statements: e.statementCount },
      }),
      this.#writer.write(() => `UPDATE sessions SET (ended_at, end_reason, bytes_from_client, bytes_to_client, statement_count)
        = ${sqlRow([e.endedAt, e.reason, e.bytesFromClient, e.bytesToClient, e.statementCount])} WHERE id = ${sqlLiteral(id)};`),
    ]);
  }

  async grantDecision(ev: Parameters<GrantAudit['grantDecision']>[0]): Promise<void> {
    await Promise.all([
      this.#audit.append({
        type: `grant.${ev.outcome}`, actor: ev.subject, connection: ev.connection,
        data: { grant_id: ev.grantId ?? null, reason: ev.reason, ...(ev.details ?? {}) },
      }),
      this.#writer.write(() => `INSERT INTO grant_decisions (at, subject, connection, outcome, reason, grant_id, details)
        VALUES ${sqlRow([new Date(), ev.subject, ev.connection, ev.outcome, ev.reason, ev.grantId ?? null, { json: ev.details ?? {} }])};`),
    ]);
  }

  flush(): Promise<void> {
    this.#flushResults();
    return this.#writer.flush();
  }

  close(): Promise<void> {
    this.#flushResults();
    return this.#writer.close();
  }

  get logger(): Logger {
    return this.#logger;
  }
}

interface UnwrittenStatement {
  start: StatementStart;
  /** Set when the statement finished before its row was written. */
  outcome: { o: StatementOutcome; details: Record<string, unknown> } | null;
  written: Promise<void>;
}

function insertStatementSql(r: UnwrittenStatement): string {
  const s = r.start;
  const o = r.outcome?.o;
  const extra = r.outcome?.details ?? {};
  const details = Object.keys(extra).length ? { ...(s.details ?? {}), ...extra } : s.details ?? null;
  return `INSERT INTO statements (session_id, seq, text, parameters, protocol, started_at, decision, details,
      duration_ms, rows, command_tag, error_code, error_message)
    VALUES ${sqlRow([
      s.sessionId, s.seq, s.text, s.parameters === null ? null : { json: s.parameters }, s.protocol, s.startedAt, s.decision,
      details ? { json: details } : null,
      o?.durationMs ?? null, o?.rows ?? null, o?.commandTag ?? null, o?.errorCode ?? null, o?.errorMessage ?? null,
    ])};`;
}

function updateStatementSql(o: StatementOutcome, details: Record<string, unknown>): string {
  const merge = Object.keys(details).length ? `COALESCE(details, '{}'::jsonb) || ${sqlLiteral({ json: details })}` : 'details';
  return `UPDATE statements SET (duration_ms, rows, command_tag, error_code, error_message)
      = ${sqlRow([o.durationMs, o.rows, o.commandTag, o.errorCode, o.errorMessage])}, details = ${merge}
    WHERE session_id = ${sqlLiteral(o.sessionId)} AND seq = ${sqlLiteral(o.seq)};`;
}
