import * as oidc from 'openid-client';
import { HoopError } from '../errors.js';

/** Discovery metadata of one issuer plus our client at it: everything a login, refresh or revocation needs. */
export interface OidcClient {
  readonly issuer: string;
  readonly clientId: string;
  /** The openid-client configuration; pass it to openid-client functions, never mutate it. */
  readonly config: oidc.Configuration;
  /** Epoch seconds; turns `expires_in` into `expires_at`. */
  now(): number;
}

export interface DiscoverIssuerOptions {
  issuer: string;
  clientId: string;
  /** Only for confidential clients (client credentials); sent with HTTP Basic when the issuer supports it. */
  clientSecret?: string;
  /** Allows http: issuers. Only the demo and the tests should set this. */
  allowInsecureHttp: boolean;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  /** Per-request timeout; default 30. */
  timeoutSeconds?: number;
}

/**
 * Reads the issuer's discovery document and returns a client for it.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html
 */
export async function discoverIssuer(options: DiscoverIssuerOptions): Promise<OidcClient> {
  let url: URL;
  try {
    url = new URL(options.issuer);
  } catch (e) {
    throw new HoopError('config_invalid', `identity provider issuer "${options.issuer}" is not a URL`, { cause: e });
  }
  if (url.protocol === 'http:' && !options.allowInsecureHttp) {
    throw new HoopError('config_invalid', `identity provider issuer ${options.issuer} uses http:`, {
      hint: 'use an https: issuer; plain http is only for the local demo and tests',
    });
  }

  const discoveryOptions: oidc.DiscoveryRequestOptions = { timeout: options.timeoutSeconds ?? 30 };
  if (options.allowInsecureHttp) discoveryOptions.execute = [oidc.allowInsecureRequests];
  if (options.fetch) discoveryOptions[oidc.customFetch] = options.fetch as oidc.CustomFetch;

  let config: oidc.Configuration;
  try {
    // Decide the client authentication after discovery, from what the issuer supports.
    config = await oidc.discovery(url, options.clientId, undefined, oidc.None(), discoveryOptions);
  } catch (e) {
    throw discoveryError(options.issuer, e);
  }
  if (options.clientSecret !== undefined) {
    const methods = config.serverMetadata().token_endpoint_auth_methods_supported;
    const auth = !methods || methods.includes('client_secret_basic')
      ? oidc.ClientSecretBasic(options.clientSecret)
      : oidc.ClientSecretPost(options.clientSecret);
    const rebuilt = new oidc.Configuration(config.serverMetadata(), options.clientId, undefined, auth);
    rebuilt.timeout = config.timeout;
    if (options.fetch) rebuilt[oidc.customFetch] = options.fetch as oidc.CustomFetch;
    if (options.allowInsecureHttp) oidc.allowInsecureRequests(rebuilt);
    config = rebuilt;
  }

  return {
    issuer: config.serverMetadata().issuer,
    clientId: options.clientId,
    config,
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
  };
}

function discoveryError(issuer: string, e: unknown): HoopError {
  if (e instanceof TypeError || (e instanceof Error && e.name === 'AbortError') || (e instanceof Error && e.name === 'TimeoutError')) {
    return new HoopError('gateway_unreachable', `could not reach the identity provider at ${issuer}`, {
      cause: e,
      hint: 'check the network, or the issuer URL the gateway advertises',
    });
  }
  const reason = e instanceof Error ? e.message : String(e);
  return new HoopError('config_invalid', `identity provider ${issuer} has no usable OpenID discovery document (${reason})`, { cause: e });
}
