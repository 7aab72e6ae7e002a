/**
 * What a foreground `hoop connect` (the live view, or the plain wait off a terminal) reads in the agent's status:
 * whether the tunnel it opened is still there, still its own, and still open.
 */
import { tunnelState, type AgentStatus, type TunnelInfo, type TunnelState } from '../../shared/api/agent-control.js';

/**
 * Whether `t` (from the agent's status) is the tunnel `ours` opened, not one that replaced it since: opened at
 * the same moment for the same grant.
 */
export function isSameTunnel(ours: TunnelInfo, t: TunnelInfo | undefined): t is TunnelInfo {
  return t !== undefined && t.opened_at === ours.opened_at && t.grant_id === ours.grant_id;
}

/**
 * How a foreground tunnel ended: `interrupted` (Ctrl-C, SIGTERM, or q in the live view: close it), `ended` (the
 * agent stopped accepting clients on it: expired, revoked, refused; `why` from its last error), `gone` (closed
 * by `hoop disconnect`, replaced by another `hoop connect`, or the agent stopped).
 */
export type TunnelEnd =
  | { kind: 'interrupted' }
  | { kind: 'ended'; state: TunnelState; why: string | null }
  | { kind: 'gone'; why: string };

/** What the agent's status says of the tunnel `ours` opened: null while it is open and ours. */
export function tunnelEnd(ours: TunnelInfo, status: AgentStatus | null, now: number): TunnelEnd | null {
  if (status === null) return { kind: 'gone', why: 'the agent is no longer running' };
  const t = status.tunnels.find((x) => x.connection === ours.connection);
  if (!isSameTunnel(ours, t)) return { kind: 'gone', why: t ? 'another `hoop connect` replaced it' : 'it was closed (hoop disconnect)' };
  const state = tunnelState(t, now);
  return state === 'open' ? null : { kind: 'ended', state, why: t.last_error };
}
