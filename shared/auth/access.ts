import { HoopError } from '../errors.js';
import type { OidcClient } from './oidc.js';
import type { StoredLogin, TokenStore } from './token-store.js';
import { withFileLock } from './file-lock.js';
import { refreshTokens, type TokenSet } from './tokens.js';

const DEFAULT_MIN_VALIDITY_SECONDS = 60;

export interface GetAccessTokenOptions {
  store: TokenStore;
  /** The gateway URL the login was made for. */
  key: string;
  /** The issuer's client, or a function that discovers it; called only when a refresh is needed. */
  client: OidcClient | (() => Promise<OidcClient>);
  /** Epoch seconds. */
  now: () => number;
  /**
   * A token with less life left than this is refreshed first, or than half its lifetime when that is shorter
   * (see {@link refreshMargin}). Default 60.
   */
  minValiditySeconds?: number;
  resource?: string;
  /** A lock file that serialises refreshes across processes (the CLI and the agent share a login). */
  lockPath?: string;
}

/**
 * How much life a stored access token must have left to be used as it is: `minValiditySeconds`, or half the
 * token's lifetime when that is less. Without the halving, an identity provider that issues tokens living
 * `minValiditySeconds` or less would have every call refresh (and rotate the refresh token), and the CLI and the
 * agent would queue on the refresh lock for each call. A token stored without `issued_at` (a login stored
 * before it was recorded), or with a lifetime that makes no sense, keeps the plain `minValiditySeconds`.
 */
export function refreshMargin(tokens: Pick<TokenSet, 'expires_at' | 'issued_at'>, minValiditySeconds = DEFAULT_MIN_VALIDITY_SECONDS): number {
  if (tokens.issued_at === undefined) return minValiditySeconds;
  const lifetime = tokens.expires_at - tokens.issued_at;
  if (!(lifetime > 0)) return minValiditySeconds;
  return Math.min(minValiditySeconds, lifetime / 2);
}

/** True when the stored access token can be used as it is at `now` (epoch seconds). */
export function isFreshEnough(tokens: Pick<TokenSet, 'expires_at' | 'issued_at'>, now: number, minValiditySeconds?: number): boolean {
  return tokens.expires_at - now >= refreshMargin(tokens, minValiditySeconds);
}

/**
 * Returns an access token for the gateway: the stored one while it has enough life left ({@link refreshMargin}),
 * else a fresh one from the refresh token, saved (with the rotated refresh token) before it is returned.
 * @throws HoopError `login_required` when there is no login or it can no longer be refreshed
 */
export async function getAccessToken(options: GetAccessTokenOptions): Promise<string> {
  const { store, key } = options;
  const login = await store.load(key);
  if (!login) {
    throw new HoopError('login_required', `not logged in to ${key}`, { hint: 'run hoop login' });
  }
  if (isFreshEnough(login.tokens, options.now(), options.minValiditySeconds)) {
    return login.tokens.access_token;
  }
  if (!login.tokens.refresh_token) {
    throw new HoopError('login_required', `the login to ${key} has expired`, { hint: 'run hoop login' });
  }
  if (!options.lockPath) return refresh(options, login);
  return withFileLock(options.lockPath, async () => {
    // Another process may have refreshed while we waited: its tokens are the live ones.
    const current = await store.load(key);
    if (!current) throw new HoopError('login_required', `not logged in to ${key}`, { hint: 'run hoop login' });
    if (isFreshEnough(current.tokens, options.now(), options.minValiditySeconds)) return current.tokens.access_token;
    return refresh(options, current);
  });
}

async function refresh(options: GetAccessTokenOptions, login: StoredLogin): Promise<string> {
  const { store, key } = options;
  let tokens;
  try {
    const client = typeof options.client === 'function' ? await options.client() : options.client;
    tokens = await refreshTokens(client, login.tokens.refresh_token!, options.resource);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new HoopError('login_required', `the login to ${key} has expired and could not be renewed: ${reason}`, {
      hint: 'run hoop login',
      cause: e,
    });
  }
  // The old refresh token is now spent: persist the new one before handing out the access token.
  await store.save(key, { ...login, tokens: { ...tokens, id_token: tokens.id_token ?? login.tokens.id_token } });
  return tokens.access_token;
}
