// Bulk transfer: COPY (SELECT id, h, pad FROM bench_bulk) TO STDOUT, direct against hoop passthrough (no masking)
// and hoop policy (column `h` masked with `partial`). psql writes the rows to a pipe that this process only counts
// (bytes and rows); without psql, pg-copy-streams does the same in-process.
//
// Throughput is rows/s: every path copies the same rows, but masking changes their length (`partial` turns a
// 32-character hex value into a shorter one), so MB/s of output would charge masking for the bytes it removes.
// MB/s (10^6 bytes) is reported too. A path that returns another number of rows than the table holds fails.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { log, onPath, rotate, round, run } from '../lib/util.mjs';
import { ratioRow } from '../lib/rows.mjs';
import { cpuTable, perUnit, startCpuMeter } from '../lib/cpu.mjs';
import { gatewayDelta, gatewayTable, scrapeGateway } from '../lib/gateway-metrics.mjs';

const SQL = 'COPY (SELECT id, h, pad FROM bench_bulk) TO STDOUT';

export async function bulk(stack, cfg) {
  const paths = ['direct', ...['passthrough', 'policy', ...(stack.ports.relay ? ['relay'] : [])].filter((p) => !cfg.paths || cfg.paths.includes(p))];
  const mbps = Object.fromEntries(paths.map((p) => [p, []]));
  const rps = Object.fromEntries(paths.map((p) => [p, []]));
  const bytes = Object.fromEntries(paths.map((p) => [p, []]));
  const samples = {};
  const cpu = Object.fromEntries(paths.map((p) => [p, []])); // per round: CPU µs per row by process
  const viaGateway = (p) => p === 'passthrough' || p === 'policy';
  const gw = Object.fromEntries(paths.filter(viaGateway).map((p) => [p, []])); // per round: the gateway's own figures
  for (let r = 0; r < cfg.rounds; r++) {
    for (const p of rotate(paths, r)) {
      const t = p === 'direct' ? stack.direct
        : p === 'relay' ? { ...stack.direct, port: stack.ports.relay } // the reference relays pass the real login through
          : { host: '127.0.0.1', port: stack.ports[p], user: 'bench', database: 'bench' };
      const meter = startCpuMeter(stack);
      const scraped = viaGateway(p) ? await scrapeGateway(stack) : undefined;
      const res = onPath('psql') ? await viaPsql(t) : await viaPg(t);
      cpu[p][r] = perUnit(meter.stop(), res.rows);
      if (viaGateway(p)) gw[p][r] = gatewayDelta(scraped, await scrapeGateway(stack));
      if (res.rows !== cfg.bulkRows) throw new Error(`COPY through ${p} returned ${res.rows} rows, expected ${cfg.bulkRows}`);
      mbps[p][r] = res.bytes / 1e6 / (res.ms / 1000);
      rps[p][r] = res.rows / (res.ms / 1000);
      bytes[p][r] = res.bytes;
      samples[p] ??= res.head.split('\n')[0];
      log(`  round ${r + 1} · COPY ${p}: ${res.rows} rows, ${round(res.bytes / 1e6, 1)} MB in ${round(res.ms, 0)} ms = ${Math.round(rps[p][r])} rows/s, ${round(mbps[p][r], 1)} MB/s`);
    }
  }
  const maskedField = samples.policy?.split('\t')[1] ?? '';
  const masked = maskedField !== '' && !/^[0-9a-f]{32}$/.test(maskedField);
  if (!masked && paths.includes('policy')) log(`  warning: the policy COPY's h column does not look masked: ${JSON.stringify(samples.policy)}`);
  return {
    title: `Bulk transfer: ${cfg.bulkRows.toLocaleString('en-US')} rows of COPY … TO STDOUT (${onPath('psql') ? 'psql' : 'pg-copy-streams'})`,
    rows: [
      paths.includes('passthrough') && ratioRow({ measure: 'COPY out rows/s, passthrough (no masking)', unit: 'rows/s', direct: rps.direct, hoop: rps.passthrough, digits: 0 }),
      paths.includes('policy') && ratioRow({ measure: 'COPY out rows/s, policy (h masked: partial)', unit: 'rows/s', direct: rps.direct, hoop: rps.policy, digits: 0, target: { minRatio: 0.60 } }),
      paths.includes('relay') && ratioRow({ measure: 'COPY out rows/s, reference: 2 plain Node.js TCP relays', unit: 'rows/s', direct: rps.direct, hoop: rps.relay, digits: 0 }),
      paths.includes('passthrough') && ratioRow({ measure: 'COPY out MB/s, passthrough (no masking)', unit: 'MB/s', direct: mbps.direct, hoop: mbps.passthrough, digits: 1 }),
      paths.includes('policy') && ratioRow({ measure: 'COPY out MB/s of output, policy (masked values are shorter)', unit: 'MB/s', direct: mbps.direct, hoop: mbps.policy, digits: 1 }),
    ].filter(Boolean),
    extra: [...cpuTable('Where the CPU goes, COPY', 'row', cpu), ...gatewayTable('What the gateway reports, COPY', gw)],
    raw: { cpu_us_per_row: cpu, gateway_metrics: gw, sql: SQL, rows: cfg.bulkRows, rps, mbps, bytes, first_row: samples, policy_output_masked: masked },
  };
}

/** Newlines in a chunk: one per COPY text row (a newline inside a value is escaped as \n). */
function newlines(d) {
  let k = 0;
  for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) k++;
  return k;
}

async function viaPsql(t) {
  let n = 0;
  let rows = 0;
  let head = '';
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PGSSLMODE: 'disable', ...(t.password ? { PGPASSWORD: t.password } : {}) };
  const r = await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', t.host, '-p', String(t.port), '-U', t.user, '-d', t.database, '-c', SQL], {
    env, timeoutMs: 600_000,
    onStdout: (d) => {
      if (head.length < 300) head += d.subarray(0, 300).toString();
      n += d.length;
      rows += newlines(d);
    },
  });
  if (r.code !== 0) throw new Error(`psql COPY failed (${r.code}) on port ${t.port}: ${r.stderr.trim().slice(-1000)}`);
  return { bytes: n, rows, ms: r.ms, head };
}

async function viaPg(t) {
  const { to: copyTo } = (await import('pg-copy-streams')).default;
  const c = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database });
  c.on('error', () => undefined);
  const started = performance.now();
  await c.connect();
  try {
    let n = 0;
    let rows = 0;
    let head = '';
    const stream = c.query(copyTo(SQL));
    await new Promise((resolve, reject) => {
      stream.on('data', (d) => {
        if (head.length < 300) head += d.subarray(0, 300).toString();
        n += d.length;
        rows += newlines(d);
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return { bytes: n, rows, ms: performance.now() - started, head };
  } finally {
    await c.end().catch(() => undefined);
  }
}
