import * as oidc from 'openid-client';
import { HoopError, type ErrorCode } from '../errors.js';

/** OAuth `error` values (RFC 6749 §5.2, RFC 8628 §3.5, RFC 8707) and what each means for a hoop user. */
const OAUTH_CODES: Record<string, ErrorCode> = {
  invalid_grant: 'login_required',
  expired_token: 'login_required',
  login_required: 'login_required',
  interaction_required: 'login_required',
  access_denied: 'access_denied',
  invalid_client: 'config_invalid',
  unauthorized_client: 'config_invalid',
  invalid_scope: 'config_invalid',
  invalid_target: 'config_invalid',
  unsupported_grant_type: 'config_invalid',
};

/**
 * Every step at which hoop talks to the identity provider, as it reads after "while" in a message: a verb
 * phrase ("while completing the device login"), never a bare noun ("while the device login" is cut short).
 * A closed set, so that a new caller cannot pass a phrase that leaves the sentence unfinished.
 */
export const OAUTH_STEPS = [
  'starting the device login',
  'completing the device login',
  'completing the browser login',
  'getting a token with the client credentials',
  'refreshing the login',
  'revoking the refresh token',
  'revoking the access token',
] as const;

export type OAuthStep = (typeof OAUTH_STEPS)[number];

/** True for a failure to talk to the server at all (refused, DNS, TLS, timeout), as opposed to an answer we dislike. */
export function isNetworkError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
  // fetch rejects with a bare TypeError("fetch failed"); openid-client's own argument errors carry a `code`.
  return e instanceof TypeError && !('code' in e);
}

/**
 * Turns whatever openid-client or fetch threw into a HoopError with a message fit for a terminal. `what` names
 * the step. OAuth error descriptions come from the server and carry no secrets.
 *
 * An identity provider that cannot be reached is `gateway_unreachable` (exit 9, documented as "gateway or
 * identity provider unreachable"): for the user both are a server on the path that did not answer.
 */
export function oauthError(what: OAuthStep, e: unknown, issuer?: string): HoopError {
  if (e instanceof HoopError) return e;
  if (isNetworkError(e)) {
    return new HoopError('gateway_unreachable', `could not reach the identity provider${issuer ? ` at ${issuer}` : ''} while ${what}`, {
      cause: e,
      hint: 'check the network and try again',
    });
  }
  if (e instanceof oidc.ResponseBodyError || e instanceof oidc.AuthorizationResponseError) {
    const code = OAUTH_CODES[e.error] ?? 'internal';
    const detail = e.error_description ? `${e.error}: ${e.error_description}` : e.error;
    return new HoopError(code, `the identity provider refused the request while ${what} (${detail})`, {
      cause: e,
      details: { oauth_error: e.error },
      ...(code === 'login_required' ? { hint: 'run hoop login' } : {}),
    });
  }
  if (e instanceof oidc.WWWAuthenticateChallengeError) {
    const error = e.cause[0]?.parameters.error ?? `HTTP ${e.status}`;
    return new HoopError(OAUTH_CODES[error] ?? 'config_invalid', `the identity provider refused the request while ${what} (${error})`, { cause: e, details: { oauth_error: error } });
  }
  if (e instanceof oidc.ClientError) {
    return new HoopError('token_invalid', `the identity provider's answer failed validation while ${what} (${e.message})`, { cause: e });
  }
  const reason = e instanceof Error ? e.message : String(e);
  return new HoopError('internal', `${what} failed: ${reason}`, { cause: e });
}
