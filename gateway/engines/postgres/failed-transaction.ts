/**
 * What may run in a transaction the gateway has failed (a statement refused inside a transaction block fails
 * it, as a server error would): only what ends or recovers it. Pure: no I/O.
 */
import { HoopError } from '../../../shared/errors.js';
import type { StatementFacts } from '../../policy/sql/facts.js';
import { FrontendTag, buildFrame } from './protocol/index.js';

/**
 * In a failed transaction: ROLLBACK (or COMMIT, which PostgreSQL turns into ROLLBACK) ends it; ROLLBACK TO
 * SAVEPOINT recovers it; anything else is refused. Returns the SQL to forward instead, or null to refuse.
 */
export function inFailedTransaction(facts: StatementFacts[], sql: string): { forward: string } | null {
  const f = facts.length === 1 ? facts[0] : undefined;
  if (f?.kind !== 'transaction') return null;
  if (/^\s*rollback\s+(work\s+|transaction\s+)?to\b/i.test(f.text)) return { forward: sql };
  if (f.command === 'COMMIT' || f.command === 'ROLLBACK') return { forward: 'ROLLBACK' };
  return null;
}

/** The refusal of anything else in a failed transaction, as PostgreSQL words it (25P02). */
export function abortedError(): HoopError {
  return new HoopError('statement_failed', 'current transaction is aborted, commands ignored until end of transaction block', {
    hint: 'hoop refused a statement in this transaction; ROLLBACK and start again',
    details: { sqlstate: '25P02' },
  });
}

/** A Parse message for `sql` with no parameter types (used to turn a failed transaction's COMMIT into ROLLBACK). */
export function encodeParse(name: string, sql: string): Buffer {
  return buildFrame(FrontendTag.Parse, [{ cstr: name }, { cstr: sql }, { i16: 0 }]);
}
