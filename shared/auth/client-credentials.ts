import * as oidc from 'openid-client';
import { oauthError } from './oauth-errors.js';
import type { OidcClient } from './oidc.js';
import { toTokenSet, type TokenSet } from './tokens.js';

export interface ClientCredentialsOptions {
  /** Discovered with a `clientSecret`. */
  client: OidcClient;
  resource?: string;
  /** For issuers that take a non-standard `audience` parameter (Auth0). */
  audience?: string;
  scopes?: readonly string[];
}

/**
 * Obtains a token for a machine client (CI) with its own credentials; no user, no refresh token.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export async function clientCredentials(options: ClientCredentialsOptions): Promise<TokenSet> {
  const params: Record<string, string> = {};
  if (options.resource) params.resource = options.resource;
  if (options.audience) params.audience = options.audience;
  if (options.scopes && options.scopes.length > 0) params.scope = options.scopes.join(' ');
  try {
    return toTokenSet(options.client, await oidc.clientCredentialsGrant(options.client.config, params));
  } catch (e) {
    throw oauthError('getting a token with the client credentials', e, options.client.issuer);
  }
}
