import { describe, expect, it } from 'vitest';
import { tunnelEnd } from '../../../cli/services/tunnel-watch.js';
import type { AgentStatus, TunnelInfo } from '../../../shared/api/agent-control.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ours: TunnelInfo = {
  connection: 'shop', state: 'open', type: 'postgres', host: '127.0.0.1', port: 5433, grant_id: 'g1',
  expires_at: '2026-01-01T13:00:00Z', opened_at: '2026-01-01T11:59:00.123Z',
  active_clients: 0, total_clients: 0, bytes_from_clients: 0, bytes_to_clients: 0, last_error: null,
};
const status = (...tunnels: TunnelInfo[]): AgentStatus => ({ pid: 1, version: '0.1.0', started_at: 'x', tunnels });

describe('tunnelEnd: what a foreground `hoop connect` reads in the agent status', () => {
  it('nothing while the tunnel is there, ours and open', () => {
    expect(tunnelEnd(ours, status(ours, { ...ours, connection: 'billing' }), NOW)).toBeNull();
  });

  it('ended, with the agent\'s reason, once it stopped accepting clients', () => {
    expect(tunnelEnd(ours, status({ ...ours, state: 'revoked', last_error: 'the grant was revoked' }), NOW))
      .toEqual({ kind: 'ended', state: 'revoked', why: 'the grant was revoked' });
    // An agent that does not report a state: past expiry is expired.
    const { state: _, ...old } = ours;
    expect(tunnelEnd(ours, status({ ...old, expires_at: '2026-01-01T11:59:59Z', last_error: 'grant expired' }), NOW))
      .toEqual({ kind: 'ended', state: 'expired', why: 'grant expired' });
  });

  it('gone when closed, replaced by another connect, or when the agent is not running', () => {
    expect(tunnelEnd(ours, status(), NOW)).toEqual({ kind: 'gone', why: 'it was closed (hoop disconnect)' });
    expect(tunnelEnd(ours, status({ ...ours, grant_id: 'g2', opened_at: '2026-01-01T11:59:30.000Z' }), NOW))
      .toEqual({ kind: 'gone', why: 'another `hoop connect` replaced it' });
    expect(tunnelEnd(ours, null, NOW)).toEqual({ kind: 'gone', why: 'the agent is no longer running' });
  });
});
