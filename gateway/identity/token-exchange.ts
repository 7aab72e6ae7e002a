/**
 * The request and response sides of OAuth 2.0 Token Exchange (RFC 8693) as hoop uses it: a CI job trades its
 * workload id_token for a grant on one connection. Pure: no I/O, no verification (the route verifies the
 * subject token with the workload verifier and asks the grant service for the grant).
 *
 * The connection is named in `audience` (RFC 8693 §2.1, "the logical name of the target service"), e.g.
 * `audience=payments-db`. `resource` (an absolute URI) is refused with a message pointing at `audience`, so a
 * client never has its target silently ignored.
 *
 * Every refusal is `usage` (HTTP 400) and carries the RFC 6749 §5.2 error code in `details.oauth_error`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.2.1
 */
import { HoopError } from '../../shared/errors.js';
import type { Grant } from '../../shared/api/schemas.js';
import {
  GRANT_TYPE_TOKEN_EXCHANGE, SUBJECT_TOKEN_TYPES, TOKEN_TYPE_HOOP_GRANT,
  type SubjectTokenType, type TokenExchangeResponse,
} from '../../shared/api/token-exchange.js';
import { CONNECTION_NAME } from '../config/schema.js';

export interface TokenExchangeRequest {
  subjectToken: string;
  subjectTokenType: SubjectTokenType;
  /** From `audience`. */
  connection: string;
  duration?: string;
  reason?: string;
}

type OAuthError = 'invalid_request' | 'unsupported_grant_type' | 'invalid_target';

const MAX_REASON = 1000;
const MAX_DURATION = 32;

/**
 * Validates a token-exchange request body (form-urlencoded fields or a JSON object). Parameters sent empty
 * count as omitted and unknown ones (such as `scope`) are ignored, as RFC 6749 §3.2 requires.
 */
export function parseTokenExchangeRequest(body: Readonly<Record<string, unknown>>): TokenExchangeRequest {
  const field = (name: string): string | undefined => {
    const v = body[name];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw refuse('invalid_request', `${name} must be a string`);
    return v;
  };

  const grantType = field('grant_type');
  if (grantType === undefined) {
    throw refuse('invalid_request', `grant_type is missing; expected ${GRANT_TYPE_TOKEN_EXCHANGE}`);
  }
  if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) {
    throw refuse('unsupported_grant_type', `grant_type ${quoted(grantType)} is not supported; expected ${GRANT_TYPE_TOKEN_EXCHANGE}`);
  }

  const subjectToken = field('subject_token');
  if (subjectToken === undefined) throw refuse('invalid_request', 'subject_token is missing; send the workload id_token');
  const expectedTypes = SUBJECT_TOKEN_TYPES.join(' or ');
  const subjectTokenType = field('subject_token_type');
  if (subjectTokenType === undefined) throw refuse('invalid_request', `subject_token_type is missing; expected ${expectedTypes}`);
  if (!isSubjectTokenType(subjectTokenType)) {
    throw refuse('invalid_request', `subject_token_type ${quoted(subjectTokenType)} is not supported; expected ${expectedTypes}`);
  }
  if (field('actor_token') !== undefined || field('actor_token_type') !== undefined) {
    throw refuse('invalid_request', 'actor_token is not supported; hoop exchanges the subject token only, without delegation');
  }

  const requested = field('requested_token_type');
  if (requested !== undefined && requested !== TOKEN_TYPE_HOOP_GRANT) {
    throw refuse('invalid_request', `requested_token_type ${quoted(requested)} is not supported; hoop issues ${TOKEN_TYPE_HOOP_GRANT}`);
  }

  if (field('resource') !== undefined) {
    throw refuse('invalid_target', 'resource is not supported; name the connection in audience, e.g. audience=payments-db');
  }
  const connection = field('audience');
  if (connection === undefined) {
    throw refuse('invalid_request', 'audience is missing; set it to the connection name, e.g. audience=payments-db');
  }
  if (!CONNECTION_NAME.test(connection)) {
    throw refuse('invalid_target', `audience ${quoted(connection)} is not a connection name (lowercase letters, digits, - and _)`);
  }

  const out: TokenExchangeRequest = { subjectToken, subjectTokenType, connection };
  const duration = field('duration');
  if (duration !== undefined) {
    if (duration.length > MAX_DURATION) throw refuse('invalid_request', `duration ${quoted(duration)} is not a duration such as 15m or 1h`);
    out.duration = duration;
  }
  const reason = field('reason');
  if (reason !== undefined) {
    if (reason.length > MAX_REASON) throw refuse('invalid_request', `reason is ${reason.length} characters long; at most ${MAX_REASON} are allowed`);
    out.reason = reason;
  }
  return out;
}

/**
 * The RFC 8693 §2.2.1 answer for an issued grant: `access_token` is the signed grant, `token_type` is "N_A"
 * because it is not an OAuth access token, and `grant` repeats what `POST /v1/grants` answers.
 */
export function tokenExchangeResponse(grant: Grant, now: Date = new Date()): TokenExchangeResponse {
  if (grant.token === undefined || grant.token === '') {
    throw new HoopError('internal', `grant ${grant.id} has no token to hand out`);
  }
  const expiresAt = Date.parse(grant.expires_at);
  const expiresIn = Number.isNaN(expiresAt) ? 0 : Math.max(0, Math.floor((expiresAt - now.getTime()) / 1000));
  return {
    access_token: grant.token,
    issued_token_type: TOKEN_TYPE_HOOP_GRANT,
    token_type: 'N_A',
    expires_in: expiresIn,
    grant,
  };
}

function isSubjectTokenType(s: string): s is SubjectTokenType {
  return (SUBJECT_TOKEN_TYPES as readonly string[]).includes(s);
}

function refuse(oauthError: OAuthError, message: string): HoopError {
  return new HoopError('usage', message, {
    hint: 'send grant_type, subject_token, subject_token_type and audience (the connection name), as RFC 8693 §2.1 describes',
    details: { oauth_error: oauthError },
  });
}

function quoted(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}
