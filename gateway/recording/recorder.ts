/**
 * Records sessions and statements in the gateway's PostgreSQL. The start of a statement is written before the
 * statement is forwarded (fail closed: if it cannot be written, it is not run); its outcome follows.
 */
import type { Database } from '../store/db.js';
import type { Logger } from '../../shared/log.js';
import type { GrantAudit } from '../grants/grant-service.js';
import { GroupCommitWriter } from './group-commit.js';

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
}

/** What engines need from recording (an interface, so engines can be tested with an in-memory one). */
export interface SessionRecorder {
  sessionStarted(s: SessionStart): Promise<void>;
  statementStarted(s: StatementStart): Promise<void>;
  statementFinished(o: StatementOutcome): Promise<void>;
  sessionEnded(id: string, e: SessionEnd): Promise<void>;
}

export class PostgresRecorder implements SessionRecorder, GrantAudit {
  readonly #writer: GroupCommitWriter;

  constructor(opts: { db: Database; logger: Logger }) {
    this.#writer = new GroupCommitWriter({ db: opts.db, logger: opts.logger });
  }

  sessionStarted(s: SessionStart): Promise<void> {
    return this.#writer.write(async (q) => {
      await q.query(
        `INSERT INTO sessions (id, connection, subject, grant_id, client_application, client_user, database, client_addr, started_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
        [s.id, s.connection, s.subject, s.grantId, s.clientApplication, s.clientUser, s.database, s.clientAddr, s.startedAt],
      );
    });
  }

  statementStarted(s: StatementStart): Promise<void> {
    return this.#writer.write(async (q) => {
      await q.query(
        `INSERT INTO statements (session_id, seq, text, parameters, protocol, started_at, decision, details)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
        [s.sessionId, s.seq, s.text, s.parameters === null ? null : JSON.stringify(s.parameters), s.protocol, s.startedAt, s.decision,
          s.details ? JSON.stringify(s.details) : null],
      );
    });
  }

  statementFinished(o: StatementOutcome): Promise<void> {
    return this.#writer.write(async (q) => {
      await q.query(
        `UPDATE statements SET duration_ms = $3, rows = $4, command_tag = $5, error_code = $6, error_message = $7,
                details = CASE WHEN $8::jsonb IS NULL THEN details ELSE COALESCE(details, '{}'::jsonb) || $8::jsonb END
          WHERE session_id = $1 AND seq = $2`,
        [o.sessionId, o.seq, o.durationMs, o.rows, o.commandTag, o.errorCode, o.errorMessage, o.details ? JSON.stringify(o.details) : null],
      );
    });
  }

  sessionEnded(id: string, e: SessionEnd): Promise<void> {
    return this.#writer.write(async (q) => {
      await q.query(
        `UPDATE sessions SET ended_at = $2, end_reason = $3, bytes_from_client = $4, bytes_to_client = $5, statement_count = $6
          WHERE id = $1`,
        [id, e.endedAt, e.reason, e.bytesFromClient, e.bytesToClient, e.statementCount],
      );
    });
  }

  grantDecision(ev: Parameters<GrantAudit['grantDecision']>[0]): Promise<void> {
    return this.#writer.write(async (q) => {
      await q.query(
        `INSERT INTO grant_decisions (at, subject, connection, outcome, reason, grant_id, details) VALUES (now(), $1, $2, $3, $4, $5, $6)`,
        [ev.subject, ev.connection, ev.outcome, ev.reason, ev.grantId ?? null, JSON.stringify(ev.details ?? {})],
      );
    });
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  close(): Promise<void> {
    return this.#writer.close();
  }
}
