/**
 * The tunnel contract between the agent (or `hoop exec`'s in-process tunnel) and the gateway.
 *
 * One WebSocket per client connection: `GET {gateway}/v1/tunnel?connection=NAME` upgraded to WebSocket (wss when
 * the gateway URL is https), with `Authorization: Bearer <grant token>` and subprotocol {@link TUNNEL_SUBPROTOCOL}.
 * The gateway refuses a grant for any other connection than the one named.
 * Binary frames carry the client's raw bytes in both directions; the agent never looks inside them.
 *
 * No grant, or one the gateway did not sign, is refused at the door: HTTP 401 with a problem+json body and no
 * WebSocket; the agent tells the client in its own protocol and treats it as {@link TUNNEL_CLOSE}.grantInvalid.
 * A grant the gateway signed that is no longer good is reported by the gateway's engine in the client's own wire
 * format (a PostgreSQL ErrorResponse, for instance) before the socket closes, so psql shows a clear message
 * instead of hanging; the WebSocket close code then tells the agent why (see {@link TUNNEL_CLOSE}).
 */
export const TUNNEL_PATH = '/v1/tunnel';
export const TUNNEL_SUBPROTOCOL = 'hoop-tunnel.v1';

/** WebSocket close codes (4000-4999 are for applications, RFC 6455 §7.4.2). */
export const TUNNEL_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  grantInvalid: 4401,
  grantExpired: 4402,
  grantRevoked: 4403,
  accessDenied: 4404,
  upstreamUnavailable: 4502,
  auditUnavailable: 4503,
  protocol: 4400,
  internal: 4500,
} as const;

export type TunnelCloseCode = (typeof TUNNEL_CLOSE)[keyof typeof TUNNEL_CLOSE];

/** Turns a gateway base URL into the tunnel's WebSocket URL. */
export function tunnelUrl(gatewayUrl: string): string {
  const u = new URL(TUNNEL_PATH, gatewayUrl.endsWith('/') ? gatewayUrl : gatewayUrl + '/');
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}
