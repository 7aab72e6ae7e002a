// Connection setup: a new connection plus `SELECT 1`, timed from before the connect to the query's result,
// alternating direct (SCRAM login) and hoop passthrough (grant already held by the agent), one at a time.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { log, percentile, round, withTimeout } from '../lib/util.mjs';
import { ratioRow } from '../lib/rows.mjs';

async function once(t) {
  const c = new pg.Client({ ...t, connectionTimeoutMillis: 20_000 });
  c.on('error', () => undefined);
  const start = performance.now();
  try {
    await withTimeout(c.connect(), 20_000, 'connect');
    await withTimeout(c.query('SELECT 1'), 20_000, 'SELECT 1');
    return performance.now() - start;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function connectSetup(stack, cfg) {
  const hoopT = { host: '127.0.0.1', port: stack.ports.passthrough, user: 'bench', database: 'bench' };
  const all = { direct: [], hoop: [] };
  const rounds = { p50: { direct: [], hoop: [] }, p99: { direct: [], hoop: [] } };
  let errors = 0;
  // Warm-up (first-use costs: the WASM parser, pools, JIT), not counted.
  for (let i = 0; i < 5; i++) {
    await once(stack.direct);
    await once(hoopT);
  }
  for (let r = 0; r < cfg.rounds; r++) {
    // cfg.connections per path in all, split over the rounds.
    const per = Math.floor(cfg.connections / cfg.rounds) + (r < cfg.connections % cfg.rounds ? 1 : 0);
    const d = [];
    const h = [];
    for (let i = 0; i < per; i++) {
      const order = (i + r) % 2 === 0 ? ['d', 'h'] : ['h', 'd'];
      for (const which of order) {
        try {
          (which === 'd' ? d : h).push(await once(which === 'd' ? stack.direct : hoopT));
        } catch (e) {
          errors++;
          if (errors <= 3) log(`  connection error (${which === 'd' ? 'direct' : 'hoop'}): ${e.message}`);
        }
      }
    }
    all.direct.push(...d);
    all.hoop.push(...h);
    rounds.p50.direct.push(percentile(d, 50));
    rounds.p50.hoop.push(percentile(h, 50));
    rounds.p99.direct.push(percentile(d, 99));
    rounds.p99.hoop.push(percentile(h, 99));
    log(`  round ${r + 1}: p50 direct ${round(percentile(d, 50))} ms, hoop ${round(percentile(h, 50))} ms`);
  }
  const p = (xs, q) => percentile(xs, q);
  // The verdict uses the percentiles over all connections; the per-round ratios show the spread.
  const p50 = ratioRow({ measure: `connect + SELECT 1, p50 (${all.hoop.length} connections)`, unit: 'ms', direct: rounds.p50.direct, hoop: rounds.p50.hoop, target: { maxDelta: 10 } });
  const p99 = ratioRow({ measure: `connect + SELECT 1, p99 (${all.hoop.length} connections)`, unit: 'ms', direct: rounds.p99.direct, hoop: rounds.p99.hoop, target: { maxDelta: 30 } });
  for (const [row, q, max] of [[p50, 50, 10], [p99, 99, 30]]) {
    row.direct = p(all.direct, q);
    row.hoop = p(all.hoop, q);
    row.pass = row.hoop - row.direct <= max;
    row.delta = round(row.hoop - row.direct, 2);
  }
  return {
    title: 'Connection setup: new connection + SELECT 1, one at a time, grant already held',
    rows: [p50, p99],
    raw: { errors, ms: { direct: all.direct.map((x) => round(x, 3)), hoop: all.hoop.map((x) => round(x, 3)) } },
    errors,
  };
}
