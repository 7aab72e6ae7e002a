import * as oidc from 'openid-client';
import { HoopError } from '../errors.js';
import { oauthError } from './oauth-errors.js';
import type { OidcClient } from './oidc.js';

/** What a login yields and what the token store keeps. */
export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  /** Epoch seconds. */
  expires_at: number;
  /**
   * Epoch seconds, by the client's clock, when the token was obtained: with `expires_at` it gives the token's
   * lifetime, which decides how early it is refreshed (access.ts). Absent in logins stored before it was added.
   */
  issued_at?: number;
  scope?: string;
}

/** Access tokens without `expires_in` are treated as living this long, so they are refreshed rather than kept forever. */
const DEFAULT_LIFETIME_SECONDS = 300;

/** Converts a token endpoint response, stamping `issued_at` and `expires_at` with the client's clock. */
export function toTokenSet(client: OidcClient, response: oidc.TokenEndpointResponse): TokenSet {
  if (response.token_type.toLowerCase() !== 'bearer') {
    throw new HoopError('token_invalid', `the identity provider issued a "${response.token_type}" token; hoop needs a Bearer token`);
  }
  const now = client.now();
  const tokens: TokenSet = {
    access_token: response.access_token,
    expires_at: now + (response.expires_in ?? DEFAULT_LIFETIME_SECONDS),
    issued_at: now,
  };
  if (response.refresh_token) tokens.refresh_token = response.refresh_token;
  if (response.id_token) tokens.id_token = response.id_token;
  if (response.scope) tokens.scope = response.scope;
  return tokens;
}

/**
 * Exchanges a refresh token for new tokens. When the issuer rotates refresh tokens the result holds the new
 * one, and the old one is dead: save the result before using it. A kept `id_token` is carried over.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export async function refreshTokens(client: OidcClient, refreshToken: string, resource?: string): Promise<TokenSet> {
  let response: oidc.TokenEndpointResponse;
  try {
    response = await oidc.refreshTokenGrant(client.config, refreshToken, resource ? { resource } : undefined);
  } catch (e) {
    throw oauthError('refreshing the login', e, client.issuer);
  }
  const tokens = toTokenSet(client, response);
  // Issuers that do not rotate answer without a refresh token: the old one stays valid.
  tokens.refresh_token ??= refreshToken;
  return tokens;
}

/**
 * Revokes the refresh token (which, at most issuers, ends the whole grant), then the access token. An issuer
 * without a revocation endpoint, or one that does not support a token type, is not an error; a network
 * failure is, so that `hoop logout` does not claim a revocation that never happened.
 * @see https://www.rfc-editor.org/rfc/rfc7009
 */
export async function revokeTokens(client: OidcClient, tokens: Pick<TokenSet, 'access_token' | 'refresh_token'>): Promise<void> {
  if (!client.config.serverMetadata().revocation_endpoint) return;
  const order: [string, 'refresh_token' | 'access_token'][] = [];
  if (tokens.refresh_token) order.push([tokens.refresh_token, 'refresh_token']);
  order.push([tokens.access_token, 'access_token']);
  for (const [token, hint] of order) {
    try {
      await oidc.tokenRevocation(client.config, token, { token_type_hint: hint });
    } catch (e) {
      if (e instanceof oidc.ResponseBodyError && e.error === 'unsupported_token_type') continue;
      throw oauthError(hint === 'refresh_token' ? 'revoking the refresh token' : 'revoking the access token', e, client.issuer);
    }
  }
}
