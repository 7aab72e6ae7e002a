import { describe, expect, it } from 'vitest';
import { formatBytes, formatStatus } from '../../../agent/status-table.js';
import { closeCodeError } from '../../../shared/tunnel/ws-dialer.js';
import type { AgentStatus, TunnelInfo } from '../../../shared/api/agent-control.js';

const NOW = Date.parse('2025-01-01T12:00:00Z');

function tunnel(over: Partial<TunnelInfo>): TunnelInfo {
  return {
    connection: 'shop', type: 'postgres', host: '127.0.0.1', port: 5433, grant_id: 'g1',
    expires_at: '2025-01-01T12:59:12Z', opened_at: '2025-01-01T11:00:00Z',
    active_clients: 1, total_clients: 3, bytes_from_clients: 2048, bytes_to_clients: 3 * 1024 * 1024, last_error: null,
    ...over,
  };
}

describe('formatStatus', () => {
  it('shows one aligned row per tunnel with state, time left, clients, traffic and the last error', () => {
    const status: AgentStatus = {
      pid: 4242, version: '0.1.0', started_at: '2025-01-01T10:00:00.000Z',
      tunnels: [
        tunnel({}),
        tunnel({ connection: 'crm', port: 6000, state: 'revoked', active_clients: 0, last_error: 'the grant was revoked' }),
        tunnel({ connection: 'billing-replica', port: 61000, expires_at: '2025-01-01T11:59:00Z', active_clients: 0, total_clients: 0,
          bytes_from_clients: 0, bytes_to_clients: 0, last_error: 'grant expired; grant renewal failed: grant revoked' }),
      ],
    };
    expect(formatStatus(status, NOW).split('\n')).toEqual([
      'agent running (pid 4242, version 0.1.0, since 10:00:00Z)',
      'CONNECTION       ADDRESS          STATE    EXPIRES IN  ACTIVE/TOTAL  FROM CLIENTS  TO CLIENTS  LAST ERROR',
      'shop             127.0.0.1:5433   open     59m 12s     1/3           2.0 KiB       3.0 MiB     -',
      'crm              127.0.0.1:6000   revoked  -           0/3           2.0 KiB       3.0 MiB     the grant was revoked',
      'billing-replica  127.0.0.1:61000  expired  -           0/0           0 B           0 B         grant expired; grant renewal failed: grant revoked',
    ]);
  });

  it('says so when no tunnel is open; a start on another day (UTC) shows its date, as every time for people does', () => {
    expect(formatStatus({ pid: 1, version: '0.1.0', started_at: '2024-12-31T23:59:58.123Z', tunnels: [] }, NOW)).toBe(
      'agent running (pid 1, version 0.1.0, since 2024-12-31 23:59:58Z)\nno tunnels open',
    );
  });

  it('formats byte counts in binary units', () => {
    expect([0, 1023, 1024, 1536, 50 * 1024 * 1024, 3 * 1024 ** 4].map(formatBytes)).toEqual(['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '50.0 MiB', '3.0 TiB']);
  });
});

describe('closeCodeError', () => {
  it('treats normal closes as no error and names the tunnel close codes', () => {
    expect(closeCodeError(1000, '')).toBeNull();
    expect(closeCodeError(1001, 'bye')).toBeNull();
    expect(closeCodeError(4403, '')).toBe('gateway closed the tunnel: grant revoked (4403)');
    expect(closeCodeError(4502, 'connect ECONNREFUSED db.internal:5432')).toBe(
      'gateway closed the tunnel: the database is unavailable (4502): connect ECONNREFUSED db.internal:5432',
    );
    expect(closeCodeError(1006, '')).toBe('gateway closed the tunnel: connection lost (1006)');
  });
});
