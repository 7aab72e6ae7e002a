/**
 * What a session writes to the audit record about its statements, and its end. A statement's start is recorded
 * before the statement is forwarded, and a statement whose start cannot be recorded is not run (fail closed):
 * the session refuses it with {@link auditError}. Outcomes come later, from the server's answers; one that cannot
 * be recorded is logged, since the statement has already run.
 *
 * Plain functions over the session's context, not an object per session: an idle session's footprint counts.
 */
import { HoopError } from '../../../shared/errors.js';
import type { SessionContext } from '../engine.js';
import type { ResultCapture } from './result-capture.js';
import type { ResultMasker } from './result-masker.js';
import { sqlStateOf } from './sqlstate.js';
import type { FinishedStatement, StatementTracker, TrackedStatement } from './statement-tracker.js';

/**
 * Records the start of a statement about to be forwarded. False when it could not be recorded: the statement is
 * dropped from the tracker, and the caller must refuse it with {@link auditError} instead of forwarding it.
 */
export async function recordStart(
  ctx: SessionContext, tracker: StatementTracker, stmt: TrackedStatement, decision = 'allow', details: Record<string, unknown> = {},
): Promise<boolean> {
  try {
    await ctx.recorder.statementStarted({
      sessionId: ctx.sessionId,
      seq: stmt.seq,
      text: stmt.text,
      parameters: stmt.parameters,
      protocol: stmt.protocol,
      startedAt: new Date(stmt.startedAt),
      decision,
      details: Object.keys(details).length ? details : null,
    });
    return true;
  } catch (e) {
    ctx.logger.error('statement refused: it could not be recorded', { error: e, seq: stmt.seq });
    tracker.discard(stmt.seq);
    return false;
  }
}

/** The refusal of a statement whose start could not be recorded (see {@link recordStart}). */
export function auditError(): HoopError {
  return new HoopError('audit_unavailable', 'hoop: the statement was not run because the audit store could not record it', {
    hint: 'try again shortly; if it persists, ask an operator to check the gateway database',
  });
}

/**
 * Records the outcomes of statements the server has finished answering. The last of them carries the masking
 * summary and the evidence of the rows the client got, both taken (and so reset) only when there is an outcome.
 */
export function recordFinished(ctx: SessionContext, done: FinishedStatement[], masker: ResultMasker | undefined, capture: ResultCapture): void {
  const masking = done.length ? masker?.takeSummary() ?? null : null;
  const result = done.length ? capture.take() : null;
  for (const s of done) {
    ctx.recorder
      .statementFinished({
        sessionId: ctx.sessionId,
        seq: s.seq,
        durationMs: s.durationMs,
        rows: s.rows,
        commandTag: s.commandTag,
        errorCode: s.errorCode,
        errorMessage: s.errorMessage,
        details: masking && s === done[done.length - 1] ? { masking } : null,
        result: s === done[done.length - 1] ? result : null,
      })
      .catch((e: unknown) => ctx.logger.error('cannot record a statement outcome', { error: e, seq: s.seq }));
  }
}

/**
 * Records a statement that was refused before it reached the server: its start and, once that is written, its
 * outcome (the error the client gets). Not awaited: nothing is forwarded, so there is nothing to hold back.
 */
export function recordRefused(
  ctx: SessionContext, stmt: TrackedStatement, decision: string, details: Record<string, unknown>, err: HoopError,
): void {
  const rec = ctx.recorder;
  const sqlstate = sqlStateOf(err);
  void rec.statementStarted({
    sessionId: ctx.sessionId, seq: stmt.seq, text: stmt.text, parameters: stmt.parameters, protocol: stmt.protocol,
    startedAt: new Date(stmt.startedAt), decision, details: { ...details, message: err.message },
  })
    .then(() => rec.statementFinished({
      sessionId: ctx.sessionId, seq: stmt.seq, durationMs: 0, rows: null, commandTag: null, errorCode: sqlstate, errorMessage: err.message,
    }))
    .catch((e: unknown) => ctx.logger.error('cannot record a refused statement', { error: e }));
}

/** Records the end of a session whose start was recorded. Never rejects: a failure is logged. */
export function recordSessionEnd(
  ctx: SessionContext, reason: string, bytesFromClient: number, bytesToClient: number, statementCount: number,
): Promise<void> {
  return ctx.recorder
    .sessionEnded(ctx.sessionId, { endedAt: ctx.now(), reason, bytesFromClient, bytesToClient, statementCount })
    .catch((e: unknown) => ctx.logger.error('cannot record the end of a session', { error: e }));
}
