import * as oidc from 'openid-client';
import { HoopError } from '../errors.js';
import { oauthError } from './oauth-errors.js';
import type { OidcClient } from './oidc.js';
import { toTokenSet, type TokenSet } from './tokens.js';

/** What the user needs to finish the login on another device. */
export interface DeviceCodePrompt {
  verification_uri: string;
  verification_uri_complete?: string;
  user_code: string;
  /** Seconds until the code expires. */
  expires_in: number;
}

export interface DeviceLoginOptions {
  client: OidcClient;
  scopes: readonly string[];
  resource?: string;
  /** For issuers that take a non-standard `audience` parameter (Auth0). */
  audience?: string;
  print: (info: DeviceCodePrompt) => void;
  signal?: AbortSignal;
}

/**
 * Logs in with the device authorization grant, for SSH sessions and WSL where no local browser can reach a
 * loopback redirect. Polls at the server's interval, slowing down when asked (openid-client does both).
 * @see https://www.rfc-editor.org/rfc/rfc8628
 */
export async function loginWithDevice(options: DeviceLoginOptions): Promise<TokenSet> {
  const { client } = options;
  if (options.signal?.aborted) throw new HoopError('interrupted', 'device login cancelled', { cause: options.signal.reason });
  const params: Record<string, string> = { scope: options.scopes.join(' ') };
  if (options.resource) params.resource = options.resource;
  if (options.audience) params.audience = options.audience;

  let authorization: oidc.DeviceAuthorizationResponse;
  try {
    authorization = await oidc.initiateDeviceAuthorization(client.config, params);
  } catch (e) {
    throw oauthError('starting the device login', e, client.issuer);
  }
  const prompt: DeviceCodePrompt = {
    verification_uri: authorization.verification_uri,
    user_code: authorization.user_code,
    expires_in: authorization.expires_in,
  };
  if (authorization.verification_uri_complete) prompt.verification_uri_complete = authorization.verification_uri_complete;
  options.print(prompt);

  const expiry = AbortSignal.timeout(authorization.expires_in * 1000);
  const signal = options.signal ? AbortSignal.any([options.signal, expiry]) : expiry;
  const tokenParams = options.resource ? { resource: options.resource } : undefined;
  // openid-client looks at the signal only between its (up to 5 s) sleeps: settle as soon as it fires.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const polling = oidc.pollDeviceAuthorizationGrant(client.config, authorization, tokenParams, { signal });
  // Whichever loses the race below settles later (or never); neither may surface as an unhandled rejection.
  aborted.catch(() => undefined);
  polling.catch(() => undefined);
  try {
    return toTokenSet(client, await Promise.race([polling, aborted]));
  } catch (e) {
    if (options.signal?.aborted) throw new HoopError('interrupted', 'device login cancelled', { cause: e });
    if (expiry.aborted) {
      throw new HoopError('login_required', 'the device code expired before the sign-in was completed', { cause: e, hint: 'run hoop login --device again' });
    }
    throw oauthError('completing the device login', e, client.issuer);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
