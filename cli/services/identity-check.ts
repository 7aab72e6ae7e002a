/**
 * `GET /v1/me`, the call that asks the gateway to check a login (`hoop login` ends with it; `hoop whoami` is
 * it). The gateway checks the access token against its identity provider's signing keys; when it cannot load
 * them, it answers 502 `upstream_unavailable` (gateway/identity/verify-access-token.ts). On this call nothing
 * else is upstream of the gateway, so that answer means the gateway cannot reach the identity provider: exit 9
 * ("gateway or identity provider unreachable"), as when the CLI itself cannot reach it, not the generic exit 1.
 */
import { HoopError, isHoopError } from '../../shared/errors.js';
import type { GatewayClient } from '../../shared/api/client.js';
import type { Me } from '../../shared/api/schemas.js';

export interface IdentityCheckContext {
  gatewayUrl: string;
  /** True right after a login was saved: the user need not log in again once the gateway recovers. */
  justLoggedIn: boolean;
}

/**
 * Who the gateway says the caller is.
 * @throws HoopError `gateway_unreachable` when the gateway cannot load its identity provider's keys; whatever
 * else the gateway answers, as it answered
 */
export async function checkIdentity(api: Pick<GatewayClient, 'me'>, ctx: IdentityCheckContext): Promise<Me> {
  try {
    return await api.me();
  } catch (e) {
    if (isHoopError(e) && e.code === 'upstream_unavailable') throw identityProviderUnreachable(e, ctx);
    throw e;
  }
}

function identityProviderUnreachable(e: HoopError, ctx: IdentityCheckContext): HoopError {
  const saved = ctx.justLoggedIn ? 'your login is saved and need not be repeated; ' : '';
  const operator = e.hint ? ` (the gateway says: ${e.hint})` : '';
  return new HoopError('gateway_unreachable', `the gateway at ${ctx.gatewayUrl} could not reach the identity provider, so it cannot check your login (${e.message})`, {
    cause: e,
    hint: `${saved}try again in a few minutes, and if this goes on, tell the gateway's operator that the gateway cannot reach its identity provider${operator}`,
    details: { upstream: 'identity_provider' },
  });
}
