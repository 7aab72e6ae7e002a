/**
 * The access token for calls to a gateway, as both the CLI and the agent resolve it: `HOOP_TOKEN` when set
 * (CI), else the stored login for that gateway, refreshed silently under a lock shared by every hoop process of
 * this user (refresh tokens rotate; two processes spending the same one would end the login).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HoopError } from '../errors.js';
import { getAccessToken } from './access.js';
import { withFileLock } from './file-lock.js';
import { discoverIssuer, type OidcClient } from './oidc.js';
import { isLoopbackHttp } from '../net/loopback.js';
import type { StoredLogin, TokenStore } from './token-store.js';

/** The lock every hoop process of this user takes to refresh, or replace, a stored login. */
export function refreshLockPath(configDir: string): string {
  return join(configDir, 'refresh.lock');
}

/**
 * Stores a new login under the refresh lock: a refresh in flight in another process (the agent renewing a grant)
 * finishes first, so it cannot write the old login's refreshed tokens over the new one.
 */
export async function saveLogin(store: TokenStore, key: string, login: StoredLogin, configDir: string): Promise<void> {
  await mkdir(configDir, { recursive: true, mode: 0o700 }); // a first login: the lock lives where the login will
  await withFileLock(refreshLockPath(configDir), () => store.save(key, login));
}

export interface AccessTokenSource {
  env: Readonly<{ HOOP_TOKEN?: string | undefined }>;
  configDir: string;
  store: () => Promise<TokenStore>;
  now: () => Date;
}

/**
 * A token handed over in an environment variable: undefined when the variable is unset. Set but blank is an
 * error, never "unset": in CI it means the step that should have fetched the token failed (`curl -sf … | jq`
 * printed nothing), and falling back to the stored login would run the job as whoever logged in on the machine.
 */
export function tokenFromEnv(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const token = value.trim();
  if (token === '') {
    throw new HoopError('token_invalid', `${name} is set but empty`, {
      hint: `the step that should have set ${name} failed; set it to a token, or unset it to use the login stored by \`hoop login\``,
    });
  }
  return token;
}

export async function accessTokenFor(src: AccessTokenSource, gatewayUrl: string): Promise<string> {
  const fromEnv = tokenFromEnv('HOOP_TOKEN', src.env.HOOP_TOKEN);
  if (fromEnv !== undefined) return fromEnv;
  const store = await src.store();
  const login = await store.load(gatewayUrl);
  if (!login) throw new HoopError('login_required', `not logged in to ${gatewayUrl}`, { hint: 'run `hoop login`' });
  return getAccessToken({
    store,
    key: gatewayUrl,
    client: () => oidcClientFor(login.issuer, login.client_id),
    now: () => Math.floor(src.now().getTime() / 1000),
    lockPath: refreshLockPath(src.configDir),
  });
}

/** The issuer's client; plain http is accepted only for a loopback issuer (the demo and tests). */
export function oidcClientFor(issuer: string, clientId: string): Promise<OidcClient> {
  return discoverIssuer({ issuer, clientId, allowInsecureHttp: isLoopbackHttp(issuer) });
}

