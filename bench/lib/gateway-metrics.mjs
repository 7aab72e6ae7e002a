// The gateway's own view of a run, from its /metrics endpoint (gateway/metrics): how long each audit record
// waited for its commit (the wait hoop adds before a statement runs), how many records each commit carried, and
// how busy the gateway's event loop was. Scraped before and after each hoop run; the difference is the run's.
/* global fetch, AbortSignal */
import { performance } from 'node:perf_hooks';
import { median } from './util.mjs';

/** One scrape as `series → value`; undefined when the gateway serves no metrics. */
export async function scrapeGateway(stack) {
  if (!stack.metricsUrl) return undefined;
  const res = await fetch(stack.metricsUrl, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${stack.metricsUrl}: HTTP ${res.status}`);
  const values = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { at: performance.now(), values };
}

/** What happened between two scrapes. */
export function gatewayDelta(before, after) {
  if (!before || !after) return undefined;
  const d = (series) => (after.values.get(series) ?? 0) - (before.values.get(series) ?? 0);
  const records = d('hoop_audit_append_seconds_count');
  const batches = d('hoop_audit_batch_records_count');
  const seconds = (after.at - before.at) / 1000;
  return {
    audit_records: records,
    audit_wait_ms: records ? (d('hoop_audit_append_seconds_sum') / records) * 1000 : null,
    records_per_batch: batches ? d('hoop_audit_batch_records_sum') / batches : null,
    event_loop_busy: seconds > 0 ? d('hoop_event_loop_active_seconds_total') / seconds : null,
    audit_failures: d('hoop_audit_append_failures_total'),
  };
}

/** A Markdown table of gatewayDelta results: byPath[path] = [per round]. */
export function gatewayTable(title, byPath) {
  const paths = Object.keys(byPath).filter((p) => byPath[p].some(Boolean));
  if (paths.length === 0) return [];
  const med = (rounds, k) => median(rounds.map((r) => r[k]).filter((x) => x !== null && x !== undefined));
  const fmt = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
  const lines = [
    `${title} (from the gateway's /metrics, median of rounds: the mean time an audit record waited from its append`
      + ' to its commit, which a statement waits before it is forwarded; the mean records per commit; and the share of'
      + ' wall time its event loop was running code)', '',
    '| path | audit commit wait per record | records per commit | gateway event loop busy | audit failures |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const p of paths) {
    const rounds = byPath[p].filter(Boolean);
    lines.push(`| ${p} | ${fmt(med(rounds, 'audit_wait_ms'), 2)} ms | ${fmt(med(rounds, 'records_per_batch'), 1)} | ${fmt(med(rounds, 'event_loop_busy') * 100, 0)} % | ${rounds.reduce((n, r) => n + r.audit_failures, 0)} |`);
  }
  lines.push('');
  return lines;
}
