/**
 * One error class for all of hoop, with a closed set of stable codes.
 *
 * Each edge maps a code exactly once: the CLI to an exit code ({@link exitCodeFor}), the HTTP API to a
 * problem+json status ({@link httpStatusFor}), and each protocol engine to its own wire error (SQLSTATE for
 * PostgreSQL, in the engine). Messages never contain secrets.
 */
export const ERROR_CODES = [
  'usage',                // bad flags or arguments
  'config_invalid',       // configuration failed validation
  'login_required',       // no stored login, or it expired and cannot be refreshed
  'token_invalid',        // an identity token failed verification (signature, issuer, audience, expiry)
  'access_denied',        // identity is fine, but policy does not allow this
  'grant_invalid',        // a grant token failed verification or names another connection
  'grant_expired',
  'grant_revoked',
  'not_found',
  'conflict',
  'blocked',              // a guardrail blocked a statement
  'approval_pending',
  'approval_timeout',
  'approval_rejected',
  'statement_failed',     // the target rejected the statement
  'gateway_unreachable',  // the gateway, or the identity provider, did not answer (exit 9 covers both)
  'agent_unavailable',
  'upstream_unavailable', // the gateway could not reach or log in to the target
  'audit_unavailable',    // the audit store could not record: fail closed
  'protocol',             // malformed bytes on a wire
  'interrupted',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface HoopErrorOptions {
  /** What the user can do about it, in one sentence. */
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable fields, safe to show (never secrets). */
  details?: Record<string, unknown>;
}

export class HoopError extends Error {
  override readonly name: string = 'HoopError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: HoopErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** Malformed bytes on a wire. Codec functions throw this and nothing else. */
export class ProtocolError extends HoopError {
  override readonly name = 'ProtocolError';
  constructor(message: string, options: HoopErrorOptions = {}) {
    super('protocol', message, options);
  }
}

export function isHoopError(e: unknown): e is HoopError {
  return e instanceof HoopError;
}

/** Wraps anything thrown into a HoopError, keeping the original as `cause`. */
export function toHoopError(e: unknown, fallback: ErrorCode = 'internal'): HoopError {
  if (e instanceof HoopError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new HoopError(fallback, message, { cause: e });
}

/** CLI exit codes (ARCHITECTURE.md, "Exit codes"). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  login: 3,
  denied: 4,
  blocked: 5,
  approvalPending: 6,
  approvalRejected: 7,
  statementFailed: 8,
  unreachable: 9,
  interrupted: 130,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'usage':
    case 'config_invalid':
      return EXIT.usage;
    case 'login_required':
    case 'token_invalid':
      return EXIT.login;
    case 'access_denied':
    case 'grant_invalid':
    case 'grant_expired':
    case 'grant_revoked':
      return EXIT.denied;
    case 'blocked':
      return EXIT.blocked;
    case 'approval_pending':
    case 'approval_timeout':
      return EXIT.approvalPending;
    case 'approval_rejected':
      return EXIT.approvalRejected;
    case 'statement_failed':
      return EXIT.statementFailed;
    case 'gateway_unreachable':
      return EXIT.unreachable;
    case 'interrupted':
      return EXIT.interrupted;
    case 'not_found':
    case 'conflict':
    case 'agent_unavailable':
    case 'upstream_unavailable':
    case 'audit_unavailable':
    case 'protocol':
    case 'internal':
      return EXIT.error;
    default:
      return assertNever(code);
  }
}

export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'usage':
    case 'config_invalid':
    case 'protocol':
      return 400;
    case 'login_required':
    case 'token_invalid':
    case 'grant_invalid':
    case 'grant_expired':
    case 'grant_revoked':
      return 401;
    case 'access_denied':
    case 'blocked':
    case 'approval_rejected':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'approval_pending':
      return 202;
    case 'approval_timeout':
      return 408;
    case 'statement_failed':
      return 422;
    case 'gateway_unreachable':
    case 'upstream_unavailable':
    case 'agent_unavailable':
      return 502;
    case 'audit_unavailable':
      return 503;
    case 'interrupted':
    case 'internal':
      return 500;
    default:
      return assertNever(code);
  }
}

/** Problem details (RFC 9457) as the gateway sends them and the CLI reads them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export function toProblem(e: HoopError): Problem {
  const p: Problem = {
    type: `https://hoop.dev/errors/${e.code}`,
    title: e.code.replace(/_/g, ' '),
    status: httpStatusFor(e.code),
    code: e.code,
    detail: e.message,
  };
  if (e.hint) p.hint = e.hint;
  if (e.details) p.details = e.details;
  return p;
}

export function fromProblem(p: Partial<Problem>, status: number): HoopError {
  const code = (ERROR_CODES as readonly string[]).includes(p.code ?? '') ? (p.code as ErrorCode) : statusToCode(status);
  const opts: HoopErrorOptions = {};
  if (p.hint) opts.hint = p.hint;
  if (p.details) opts.details = p.details;
  return new HoopError(code, p.detail ?? p.title ?? `gateway answered HTTP ${status}`, opts);
}

function statusToCode(status: number): ErrorCode {
  if (status === 401) return 'login_required';
  if (status === 403) return 'access_denied';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 400) return 'usage';
  return 'internal';
}

export function assertNever(x: never): never {
  throw new HoopError('internal', `unexpected value: ${JSON.stringify(x)}`);
}
