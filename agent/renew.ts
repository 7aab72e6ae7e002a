/**
 * Wires grant renewal (`POST /v1/grants/{id}/renew`) and release (`POST /v1/grants/{id}/revoke`) to the gateway
 * API, with the user's IdP access token, taken from `HOOP_TOKEN` when set (CI), else from the login `hoop login`
 * stored, refreshed silently.
 */
import { GatewayClient, type FetchLike } from '../shared/api/client.js';
import { accessTokenFor } from '../shared/auth/session.js';
import { createTokenStore, type TokenStore } from '../shared/auth/token-store.js';
import { HoopError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { RenewGrant, TunnelGrant } from './tunnel.js';

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

/** Gives up a grant the user is done with: the tunnel was closed or replaced here. */
export type ReleaseGrant = (grant: TunnelGrant, gatewayUrl: string) => Promise<void>;

/** The gateway API as the user, for one gateway: the renewal and the release below. */
function gatewayClientFactory(opts: RenewWiringOptions): (gatewayUrlRaw: string) => GatewayClient {
  let store: Promise<TokenStore> | undefined;
  const openStore = (): Promise<TokenStore> => {
    store ??= (opts.openStore ?? (() => createTokenStore({ dir: opts.configDir, warn: (m) => opts.logger?.warn(m) })))();
    return store;
  };
  const now = opts.now ?? (() => new Date());
  const accessToken = (gatewayUrl: string): Promise<string> =>
    accessTokenFor({ env: opts.env, configDir: opts.configDir, store: openStore, now }, gatewayUrl);
  return (gatewayUrlRaw) => {
    // The login is stored under the gateway URL as the CLI writes it: without a trailing slash.
    const gatewayUrl = gatewayUrlRaw.replace(/\/+$/, '');
    return new GatewayClient({
      baseUrl: gatewayUrl,
      accessToken: () => accessToken(gatewayUrl),
      ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  };
}

/**
 * The daemon's calls to the gateway about its grants, sharing one token store: the {@link RenewGrant}, and the
 * {@link ReleaseGrant}, which revokes the grant (`POST /v1/grants/{id}/revoke`, allowed to its own subject) so
 * that a tunnel closed here leaves no live grant behind, and the record says when access ended.
 */
export function createGrantCalls(opts: RenewWiringOptions): { renewGrant: RenewGrant; releaseGrant: ReleaseGrant } {
  const clientFor = gatewayClientFactory(opts);
  return {
    async renewGrant(grant, gatewayUrl) {
      const renewed = await clientFor(gatewayUrl).renewGrant(grant.id);
      if (!renewed.token) {
        throw new HoopError('internal', `the gateway renewed grant ${grant.id} but sent no grant token`, {
          hint: 'the agent and the gateway may be different versions',
        });
      }
      return { ...renewed, token: renewed.token };
    },
    async releaseGrant(grant, gatewayUrl) {
      await clientFor(gatewayUrl).revokeGrant(grant.id);
    },
  };
}

/** The {@link RenewGrant} the daemon uses. */
export function createRenewGrant(opts: RenewWiringOptions): RenewGrant {
  return createGrantCalls(opts).renewGrant;
}
