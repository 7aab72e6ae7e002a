// Components, in this process: masking detectors (values/s), SQL parse + analysis time per statement (µs), and
// audit-log appends (records/s with 1 and 8 sessions on a scratch database with the migrations applied).
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { log, median, percentile, round } from '../lib/util.mjs';
import { valueRow } from '../lib/rows.mjs';
import { dist } from '../lib/build.mjs';


export const SIMPLE_SQL = 'SELECT abalance FROM pgbench_accounts WHERE aid = 48213;';
export const COMPLEX_SQL = `WITH recent AS (
  SELECT o.customer_id, sum(o.total) AS spent, count(*) AS n, max(o.created_at) AS last_at
  FROM orders o JOIN order_items i ON i.order_id = o.id
  WHERE o.created_at > now() - interval '30 days' AND o.status IN ('paid', 'shipped')
  GROUP BY o.customer_id HAVING count(*) > 2
)
SELECT c.id, c.name, lower(c.email) AS email, r.spent, r.n,
       rank() OVER (PARTITION BY c.country ORDER BY r.spent DESC) AS rnk,
       CASE WHEN r.spent > 1000 THEN 'gold' WHEN r.spent > 100 THEN 'silver' ELSE 'bronze' END AS tier,
       (SELECT count(*) FROM tickets t WHERE t.customer_id = c.id AND t.open) AS open_tickets
FROM customers c
JOIN recent r ON r.customer_id = c.id
LEFT JOIN addresses a ON a.customer_id = c.id AND a.kind = 'billing'
WHERE c.deleted_at IS NULL AND (c.country = $1 OR a.country = $1)
ORDER BY r.spent DESC, c.id
LIMIT 100 OFFSET 20;`;

export async function components(stack, cfg) {
  const { measureDetectors, typicalValues } = await import(dist('gateway/masking/bench.js'));
  const { loadSqlModule, parseSql } = await import(dist('gateway/policy/sql/analyze.js'));
  const { measureAppendThroughput } = await import(dist('gateway/audit/bench.js'));
  const { openDatabase } = await import(dist('gateway/store/db.js'));
  const { migrate } = await import(dist('gateway/store/migrate.js'));
  const { migrations } = await import(dist('gateway/store/migrations/index.js'));
  const { silentLogger } = await import(dist('shared/log.js'));

  const rows = [];
  const raw = { detectors: [], parse: {}, audit: {} };

  // Detectors
  const values = typicalValues();
  measureDetectors(values, 50); // JIT warm-up
  const perRound = [];
  for (let r = 0; r < cfg.rounds; r++) perRound.push(measureDetectors(values, cfg.detectorMs));
  raw.detectors = perRound;
  for (const name of Object.keys(perRound[0])) {
    const v = perRound.map((x) => x[name]);
    rows.push(valueRow({
      measure: name === 'all' ? 'masking: all detectors in turn, values/s' : `masking detector ${name}, values/s`,
      unit: '', values: v, digits: 0,
      ...(name === 'all' ? {} : { target: { min: 1_000_000 } }),
    }));
  }
  log(`  detectors: ${Object.entries(perRound[0]).map(([k, v]) => `${k} ${round(v / 1e6, 2)} M/s`).join(', ')}`);

  // Parser (synchronous path the gateway uses for statements under 64 KiB)
  await loadSqlModule();
  for (const [label, sql] of [['simple', SIMPLE_SQL], ['complex', COMPLEX_SQL]]) {
    const ok = parseSql(sql);
    if (ok && ok.ok === false) throw new Error(`the ${label} statement did not parse: ${JSON.stringify(ok).slice(0, 300)}`);
    const iterations = label === 'simple' ? cfg.parseIterations : Math.ceil(cfg.parseIterations / 4);
    for (let i = 0; i < Math.min(2000, iterations); i++) parseSql(sql); // warm-up
    const us = [];
    const roundsP50 = [];
    const roundsP99 = [];
    for (let r = 0; r < cfg.rounds; r++) {
      const these = [];
      for (let i = 0; i < iterations; i++) {
        const t0 = performance.now();
        parseSql(sql);
        these.push((performance.now() - t0) * 1000);
      }
      roundsP50.push(percentile(these, 50));
      roundsP99.push(percentile(these, 99));
      us.push(...these);
    }
    raw.parse[label] = { p50_us: round(percentile(us, 50), 2), p99_us: round(percentile(us, 99), 2), iterations: us.length, bytes: Buffer.byteLength(sql) };
    rows.push(valueRow({ measure: `SQL parse + analysis, ${label} (${Buffer.byteLength(sql)} B), p50`, unit: 'µs', values: [percentile(us, 50)], digits: 1 }));
    rows.push(valueRow({ measure: `SQL parse + analysis, ${label}, p99`, unit: 'µs', values: [percentile(us, 99)], digits: 1 }));
    log(`  parse ${label}: p50 ${raw.parse[label].p50_us} µs, p99 ${raw.parse[label].p99_us} µs (per-round p50 ${roundsP50.map((x) => round(x, 1)).join(', ')})`);
  }

  // Audit appends
  const db = openDatabase({ url: stack.auditUrl, logger: silentLogger, max: 10 });
  try {
    await migrate(db, migrations, { logger: silentLogger });
    for (const sessions of [1, 8]) {
      const v = [];
      for (let r = 0; r < cfg.rounds; r++) v.push(await measureAppendThroughput(db, { sessions, durationMs: cfg.auditMs }));
      raw.audit[sessions] = v.map((x) => round(x, 0));
      rows.push(valueRow({
        measure: `audit append, ${sessions} session${sessions > 1 ? 's' : ''}, records/s`, unit: '', values: v, digits: 0,
        ...(sessions === 8 ? { target: { min: 5000 } } : {}),
      }));
      log(`  audit append, ${sessions} sessions: ${round(median(v), 0)} records/s`);
    }
    // Reference: the same without waiting for the WAL flush, to tell round trips from fsync.
    const off = await measureAppendThroughput(db, { sessions: 8, durationMs: cfg.auditMs, synchronousCommit: false });
    raw.audit['8_sync_off'] = round(off, 0);
    rows.push(valueRow({ measure: 'audit append, 8 sessions, synchronous_commit off (reference), records/s', unit: '', values: [off], digits: 0 }));
  } finally {
    await db.close();
  }
  return { title: 'Components (in-process, one core)', rows, raw };
}
