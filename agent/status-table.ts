/**
 * The readable form of `hoop agent status`: times in the CLI's format (docs/cli.md), not ISO; `--json` has ISO.
 */
import { tunnelState, type AgentStatus } from '../shared/api/agent-control.js';
import { clockTime, formatDuration } from '../shared/duration.js';

export function formatStatus(status: AgentStatus, now: number): string {
  const lines = [`agent running (pid ${status.pid}, version ${status.version}, since ${clockTime(status.started_at, new Date(now))})`];
  if (status.tunnels.length === 0) {
    lines.push('no tunnels open');
    return lines.join('\n');
  }
  const rows = status.tunnels.map((t) => {
    const state = tunnelState(t, now);
    return [
      t.connection,
      `${t.host}:${t.port}`,
      state,
      state === 'open' ? formatDuration(Date.parse(t.expires_at) - now) : '-',
      `${t.active_clients}/${t.total_clients}`,
      formatBytes(t.bytes_from_clients),
      formatBytes(t.bytes_to_clients),
      t.last_error ?? '-',
    ];
  });
  const header = ['CONNECTION', 'ADDRESS', 'STATE', 'EXPIRES IN', 'ACTIVE/TOTAL', 'FROM CLIENTS', 'TO CLIENTS', 'LAST ERROR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  lines.push(fmt(header), ...rows.map(fmt));
  return lines.join('\n');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}
