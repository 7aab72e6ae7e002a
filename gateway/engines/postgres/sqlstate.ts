/**
 * The PostgreSQL edge of hoop's errors: each HoopError code maps to one SQLSTATE, once, here.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
import { assertNever, type ErrorCode, type HoopError } from '../../../shared/errors.js';

export const SqlState = {
  insufficientPrivilege: '42501',
  invalidAuthorization: '28000',
  adminShutdown: '57P01',
  cannotConnectNow: '57P03',
  queryCanceled: '57014',
  unableToConnect: '08001',
  protocolViolation: '08P01',
  systemError: '58000',
  internalError: 'XX000',
  featureNotSupported: '0A000',
  syntaxError: '42601',
} as const;

/** The SQLSTATE a client gets for `err`: `details.sqlstate` when the error names one to answer with (a refusal worded as the server's, 25P02), else its code's. */
export function sqlStateOf(err: HoopError): string {
  return typeof err.details?.sqlstate === 'string' ? err.details.sqlstate : sqlStateFor(err.code);
}

export function sqlStateFor(code: ErrorCode): string {
  switch (code) {
    case 'access_denied':
    case 'blocked':
    case 'approval_rejected':
      return SqlState.insufficientPrivilege;
    case 'login_required':
    case 'token_invalid':
    case 'grant_invalid':
    case 'grant_expired':
    case 'grant_revoked':
      return SqlState.invalidAuthorization;
    case 'approval_pending':
    case 'approval_timeout':
      return SqlState.queryCanceled;
    case 'upstream_unavailable':
    case 'gateway_unreachable':
    case 'agent_unavailable':
      return SqlState.unableToConnect;
    case 'audit_unavailable':
      return SqlState.systemError;
    case 'protocol':
      return SqlState.protocolViolation;
    case 'usage':
    case 'config_invalid':
      return SqlState.featureNotSupported;
    case 'interrupted':
      return SqlState.adminShutdown;
    case 'statement_failed':
    case 'not_found':
    case 'conflict':
    case 'internal':
      return SqlState.internalError;
    default:
      return assertNever(code);
  }
}

/** Marks an error the gateway made (ErrorResponse field R), so hoop's own clients can tell it from the target's. */
export function routineFor(code: ErrorCode): string {
  return `hoop_${code}`;
}
