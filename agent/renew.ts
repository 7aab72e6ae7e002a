/**
 * Wires grant renewal to the gateway API: `POST /v1/grants/{id}/renew` with the user's IdP access token, taken
 * from `HOOP_TOKEN` when set (CI), else from the login `hoop login` stored, refreshed silently.
 */
import { GatewayClient, type FetchLike } from '../shared/api/client.js';
import { accessTokenFor } from '../shared/auth/session.js';
import { createTokenStore, type TokenStore } from '../shared/auth/token-store.js';
import { HoopError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { RenewGrant } from './tunnel.js';

export interface RenewWiringOptions {
  /** The daemon's environment: `HOOP_TOKEN`, when set, is the access token. */
  env: Readonly<Record<string, string | undefined>>;
  /** The config dir, where the stored login lives (or the keychain is used). */
  configDir: string;
  logger?: Logger;
  userAgent?: string;
  fetch?: FetchLike;
  /** Opens the token store; by default the keychain, else the 0600 file in `configDir`. */
  openStore?: () => Promise<TokenStore>;
  now?: () => Date;
}

/** The {@link RenewGrant} the daemon uses. */
export function createRenewGrant(opts: RenewWiringOptions): RenewGrant {
  let store: Promise<TokenStore> | undefined;
  const openStore = (): Promise<TokenStore> => {
    store ??= (opts.openStore ?? (() => createTokenStore({ dir: opts.configDir, warn: (m) => opts.logger?.warn(m) })))();
    return store;
  };
  const now = opts.now ?? (() => new Date());

  const accessToken = (gatewayUrl: string): Promise<string> =>
    accessTokenFor({ env: opts.env, configDir: opts.configDir, store: openStore, now }, gatewayUrl);

  return async (grant, gatewayUrlRaw) => {
    // The login is stored under the gateway URL as the CLI writes it: without a trailing slash.
    const gatewayUrl = gatewayUrlRaw.replace(/\/+$/, '');
    const client = new GatewayClient({
      baseUrl: gatewayUrl,
      accessToken: () => accessToken(gatewayUrl),
      ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    const renewed = await client.renewGrant(grant.id);
    if (!renewed.token) {
      throw new HoopError('internal', `the gateway renewed grant ${grant.id} but sent no grant token`, {
        hint: 'the agent and the gateway may be different versions',
      });
    }
    return { ...renewed, token: renewed.token };
  };
}
