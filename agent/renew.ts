/**
 * Wires grant renewal (`POST /v1/grants/{id}/renew`), release (`POST /v1/grants/{id}/revoke`) and the check of
 * an idle tunnel's grant (`GET /v1/grants/{id}`) to the gateway API, with the user's IdP access token: the one the tunnel came with (`HOOP_TOKEN` of the `hoop connect` that
 * opened it, in CI), else the login `hoop login` stored, refreshed silently.
 */
import { GatewayClient, type FetchLike } from '../shared/api/client.js';
import { accessTokenFor } from '../shared/auth/session.js';
import { createTokenStore, type TokenStore } from '../shared/auth/token-store.js';
import { HoopError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { CheckGrant, RenewGrant, TunnelGrant } from './tunnel.js';

export interface RenewWiringOptions {
  /** The daemon's environment (its `HOOP_TOKEN` is ignored: each tunnel brings its own token, if any). */
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

/** Gives up a grant the user is done with (the tunnel was closed or replaced here), as {@link RenewGrant} asks. */
export type ReleaseGrant = (grant: TunnelGrant, gatewayUrl: string, accessToken?: string) => Promise<void>;

/** The gateway API as the user, for one gateway: the renewal and the release below. */
function gatewayClientFactory(opts: RenewWiringOptions): (gatewayUrlRaw: string, bearer?: string) => GatewayClient {
  let store: Promise<TokenStore> | undefined;
  const openStore = (): Promise<TokenStore> => {
    store ??= (opts.openStore ?? (() => createTokenStore({ dir: opts.configDir, warn: (m) => opts.logger?.warn(m) })))();
    return store;
  };
  const now = opts.now ?? (() => new Date());
  // Never HOOP_TOKEN from the daemon's own environment: a tunnel brings its token (`bearer`), or the stored login.
  const env = { ...opts.env, HOOP_TOKEN: undefined };
  const accessToken = (gatewayUrl: string): Promise<string> =>
    accessTokenFor({ env, configDir: opts.configDir, store: openStore, now }, gatewayUrl);
  return (gatewayUrlRaw, bearer) => {
    // The login is stored under the gateway URL as the CLI writes it: without a trailing slash.
    const gatewayUrl = gatewayUrlRaw.replace(/\/+$/, '');
    return new GatewayClient({
      baseUrl: gatewayUrl,
      accessToken: bearer ? () => Promise.resolve(bearer) : () => accessToken(gatewayUrl),
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
export function createGrantCalls(opts: RenewWiringOptions): { renewGrant: RenewGrant; releaseGrant: ReleaseGrant; checkGrant: CheckGrant } {
  const clientFor = gatewayClientFactory(opts);
  return {
    async renewGrant(grant, gatewayUrl, bearer) {
      const renewed = await clientFor(gatewayUrl, bearer).renewGrant(grant.id);
      if (!renewed.token) {
        throw new HoopError('internal', `the gateway renewed grant ${grant.id} but sent no grant token`, {
          hint: 'the agent and the gateway may be different versions',
        });
      }
      return { ...renewed, token: renewed.token };
    },
    async releaseGrant(grant, gatewayUrl, bearer) {
      await clientFor(gatewayUrl, bearer).revokeGrant(grant.id);
    },
    checkGrant: (grant, gatewayUrl, bearer) => clientFor(gatewayUrl, bearer).getGrant(grant.id),
  };
}

/** The {@link RenewGrant} the daemon uses. */
export function createRenewGrant(opts: RenewWiringOptions): RenewGrant {
  return createGrantCalls(opts).renewGrant;
}
