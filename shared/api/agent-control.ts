/**
 * The agent's control API: HTTP/1.1 over a 0600 unix socket in the config dir (shared/paths.ts).
 * Used by `hoop connect`, `hoop disconnect`, `hoop agent status|stop` and `hoop connections`.
 *
 *   GET    /v1/status                 -> AgentStatus
 *   POST   /v1/tunnels                OpenTunnelRequest -> TunnelInfo   (replaces an open tunnel of that connection)
 *   DELETE /v1/tunnels/{connection}   -> { closed: string[] }
 *   DELETE /v1/tunnels                -> { closed: string[] }           (all)
 *   POST   /v1/shutdown               -> { ok: true }
 *
 * Errors are problem+json like the gateway's.
 */
import { z } from 'zod';
import { GrantSchema } from './schemas.js';

export const OpenTunnelRequestSchema = z.object({
  connection: z.string().min(1),
  gateway_url: z.string().url(),
  /** 0 asks for any free port. Omitted: the connection type's default (5433 for postgres), else any. */
  port: z.number().int().min(0).max(65535).optional(),
  grant: GrantSchema.extend({ token: z.string() }),
  /**
   * The bearer token the grant was obtained with, when it was not the stored login (`HOOP_TOKEN` in CI). The
   * agent renews and gives back this tunnel's grant with it, and holds it in memory with the tunnel only: the
   * daemon never takes credentials from the environment of whoever started it.
   */
  access_token: z.string().min(1).optional(),
});
export type OpenTunnelRequest = z.infer<typeof OpenTunnelRequestSchema>;

export const TunnelStateSchema = z.enum(['open', 'expired', 'revoked', 'refused', 'closed']);

export const TunnelInfoSchema = z.object({
  connection: z.string(),
  /**
   * `open` accepts clients; `expired`, `revoked` (by an admin or the user) and `refused` (the gateway no longer
   * accepts the grant) do not, and `last_error` says why. Optional: an agent from before it was added omits it.
   */
  state: TunnelStateSchema.optional(),
  type: z.string(),
  host: z.literal('127.0.0.1'),
  port: z.number().int(),
  grant_id: z.string(),
  expires_at: z.string(),
  opened_at: z.string(),
  active_clients: z.number().int(),
  total_clients: z.number().int(),
  bytes_from_clients: z.number(),
  bytes_to_clients: z.number(),
  last_error: z.string().nullable(),
});
export type TunnelInfo = z.infer<typeof TunnelInfoSchema>;
export type TunnelState = z.infer<typeof TunnelStateSchema>;

/**
 * Whether a tunnel still accepts connections, and if not, why: the agent's own word when it gives one (a
 * revoked grant closes the listener before expiry), else whether the grant has expired.
 */
export function tunnelState(t: TunnelInfo, now: number): TunnelState {
  if (t.state !== undefined && t.state !== 'open') return t.state;
  return Date.parse(t.expires_at) > now ? 'open' : 'expired';
}

export const AgentStatusSchema = z.object({
  pid: z.number().int(),
  version: z.string(),
  started_at: z.string(),
  tunnels: z.array(TunnelInfoSchema),
});
export type AgentStatus = z.infer<typeof AgentStatusSchema>;
