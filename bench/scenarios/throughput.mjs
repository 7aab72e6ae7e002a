// Select-only TPS at 1, 8 and 32 clients: direct, hoop passthrough, hoop with full policy (and pgbouncer when
// installed), interleaved per round with the order rotated each round.
import { HAVE_PGBENCH, selectOnly } from '../lib/load.mjs';
import pg from 'pg';
import { loadAverage, log, median, rotate, round, sleep } from '../lib/util.mjs';
import { ratioRow, valueRow } from '../lib/rows.mjs';
import { cpuTable, perUnit, startCpuMeter } from '../lib/cpu.mjs';
import { gatewayDelta, gatewayTable, scrapeGateway } from '../lib/gateway-metrics.mjs';
import { ROLE, TARGET_DB } from '../lib/names.mjs';

const TARGETS = { 'passthrough@8': 0.75, 'policy@8': 0.60 };

/**
 * What one statement through hoop costs the gateway's state database, sequentially: write transactions (the
 * cluster's transaction-id counter; nothing else writes meanwhile) and audit records appended.
 */
async function statePerStatement(stack, path, n = 100) {
  const admin = new pg.Client({ connectionString: stack.stateUrl });
  const c = new pg.Client({ host: '127.0.0.1', port: stack.ports[path], user: 'bench', database: 'bench' });
  await admin.connect();
  try {
    await c.connect();
    await c.query('SELECT 1');
    await sleep(500); // the session's opening records
    const read = async () => {
      const r = await admin.query('SELECT pg_current_xact_id()::text::bigint AS xid, (SELECT count(*) FROM audit_log)::bigint AS audit');
      return { xid: Number(r.rows[0].xid), audit: Number(r.rows[0].audit) };
    };
    const before = await read();
    for (let i = 0; i < n; i++) await c.query(`SELECT abalance FROM pgbench_accounts WHERE aid = ${1 + i}`);
    await sleep(500); // the last statement's result record is written after its answer
    const after = await read();
    const per = (x) => Math.round((x / n) * 100) / 100;
    return { statements: n, write_transactions: per(after.xid - before.xid - 1), audit_records: per(after.audit - before.audit) };
  } finally {
    await c.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

export async function throughput(stack, cfg) {
  const extra = ['pgbouncer', 'relay'].filter((p) => stack.ports[p]);
  const paths = ['direct', ...['passthrough', 'policy', ...extra].filter((p) => !cfg.paths || cfg.paths.includes(p))];
  // The relay reference passes the client's own login through: it needs the real role and password. pgbouncer
  // knows the role (its auth file) and logs in to the target itself.
  const targetFor = (p) => (p === 'direct' ? stack.direct
    : p === 'relay' ? { ...stack.direct, port: stack.ports.relay }
      : p === 'pgbouncer' ? { host: '127.0.0.1', port: stack.ports.pgbouncer, user: ROLE, database: TARGET_DB }
        : { host: '127.0.0.1', port: stack.ports[p], user: 'bench', database: 'bench' });
  const probe = await statePerStatement(stack, 'passthrough');
  const probePolicy = await statePerStatement(stack, 'policy');
  log(`  per statement (sequential): passthrough ${probe.write_transactions} state-db write transactions, ${probe.audit_records} audit records; policy ${probePolicy.write_transactions}, ${probePolicy.audit_records}`);
  const tps = {}; // tps[clients][path] = [per round]
  const cpu = {}; // cpu[clients][path] = [per round: CPU µs per transaction by process]
  const gw = {}; // gw[clients][path] = [per round: the gateway's own figures] (hoop paths only)
  const viaGateway = (p) => p === 'passthrough' || p === 'policy';
  const loads = [];
  for (let r = 0; r < cfg.rounds; r++) {
    for (const clients of cfg.clients) {
      tps[clients] ??= Object.fromEntries(paths.map((p) => [p, []]));
      cpu[clients] ??= Object.fromEntries(paths.map((p) => [p, []]));
      gw[clients] ??= Object.fromEntries(paths.filter(viaGateway).map((p) => [p, []]));
      for (const p of rotate(paths, r)) {
        const meter = startCpuMeter(stack);
        const scraped = viaGateway(p) ? await scrapeGateway(stack) : undefined;
        const res = await selectOnly(targetFor(p), { clients, seconds: cfg.seconds, scale: cfg.scale });
        cpu[clients][p][r] = perUnit(meter.stop(), res.transactions);
        if (viaGateway(p)) gw[clients][p][r] = gatewayDelta(scraped, await scrapeGateway(stack));
        if (res.failed) log(`  ${p}: ${res.failed} failed transactions`);
        tps[clients][p][r] = res.tps;
        log(`  round ${r + 1} · ${clients} clients · ${p}: ${round(res.tps, 0)} tps`);
      }
      loads.push(loadAverage()[0]);
    }
  }
  const rows = [];
  for (const clients of cfg.clients) {
    for (const p of paths.slice(1)) {
      const min = TARGETS[`${p}@${clients}`];
      rows.push(ratioRow({
        measure: `select-only TPS, ${clients} client${clients > 1 ? 's' : ''}, ${p === 'relay' ? 'reference: 2 plain Node.js TCP relays' : p}`,
        unit: 'tps', direct: tps[clients].direct, hoop: tps[clients][p], higherIsBetter: true,
        ...(min !== undefined ? { target: { minRatio: min } } : {}),
      }));
    }
  }
  rows.push(valueRow({ measure: 'gateway state-db write transactions per statement (passthrough, one client)', unit: '', values: [probe.write_transactions], digits: 2 }));
  rows.push(valueRow({ measure: 'audit records per statement (passthrough, one client)', unit: '', values: [probe.audit_records], digits: 2 }));
  const cpuTables = cfg.clients.flatMap((c) => [
    ...cpuTable(`Where the CPU goes, select-only at ${c} client${c > 1 ? 's' : ''}`, 'transaction', cpu[c]),
    ...gatewayTable(`What the gateway reports, select-only at ${c} client${c > 1 ? 's' : ''}`, gw[c]),
  ]);
  return {
    extra: cpuTables,
    title: `Throughput: select-only (${HAVE_PGBENCH ? 'pgbench -S' : 'built-in pg load generator'}), ${cfg.seconds} s per run`,
    rows,
    raw: { tool: HAVE_PGBENCH ? 'pgbench' : 'builtin', seconds: cfg.seconds, scale: cfg.scale, tps, load1_after_each_block: loads, state_db_per_statement: { passthrough: probe, policy: probePolicy }, cpu_us_per_transaction: cpu, gateway_metrics: gw, median_direct: Object.fromEntries(cfg.clients.map((c) => [c, median(tps[c].direct)])) },
  };
}
