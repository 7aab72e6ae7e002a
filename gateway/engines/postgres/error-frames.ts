/**
 * The ErrorResponse messages the gateway makes itself: the refusal of one statement (ERROR: the session goes on)
 * and the end of a session (FATAL). Both carry hoop's message and hint, the SQLSTATE the error maps to, and the
 * routine field that tells hoop's own clients the error came from the gateway, not the target.
 *
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
import type { HoopError } from '../../../shared/errors.js';
import { encodeErrorResponse } from './protocol/index.js';
import { routineFor, sqlStateOf } from './sqlstate.js';

/** An ERROR refusing one statement. */
export function encodeRefusal(err: HoopError): Buffer {
  const sqlstate = sqlStateOf(err);
  return encodeErrorResponse({
    severity: 'ERROR', code: sqlstate, message: err.message, routine: routineFor(err.code), ...(err.hint ? { hint: err.hint } : {}),
  });
}

/** A FATAL ending the session, its message marked as hoop's; a grant revoked or expired reads as 57P01 (admin shutdown). */
export function encodeFatal(err: HoopError): Buffer {
  const message = err.message.startsWith('hoop:') ? err.message : `hoop: ${err.message}`;
  const code = err.code === 'grant_revoked' || err.code === 'grant_expired' ? '57P01' : sqlStateOf(err);
  return encodeErrorResponse({ severity: 'FATAL', code, message, routine: routineFor(err.code), ...(err.hint ? { hint: err.hint } : {}) });
}
