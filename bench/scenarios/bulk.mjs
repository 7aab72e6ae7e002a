// Bulk transfer: COPY (SELECT id, h, pad FROM bench_bulk) TO STDOUT, in MB/s (10^6 bytes), direct against hoop
// passthrough (no masking) and hoop policy (column `h` masked with `partial`). psql writes the rows to a pipe
// that this process only counts; without psql, pg-copy-streams does the same in-process.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { log, onPath, rotate, round, run } from '../lib/util.mjs';
import { ratioRow } from '../lib/rows.mjs';

const SQL = 'COPY (SELECT id, h, pad FROM bench_bulk) TO STDOUT';

export async function bulk(stack, cfg) {
  const paths = ['direct', ...['passthrough', 'policy', ...(stack.ports.relay ? ['relay'] : [])].filter((p) => !cfg.paths || cfg.paths.includes(p))];
  const mbps = Object.fromEntries(paths.map((p) => [p, []]));
  const bytes = Object.fromEntries(paths.map((p) => [p, []]));
  const samples = {};
  for (let r = 0; r < cfg.rounds; r++) {
    for (const p of rotate(paths, r)) {
      const t = p === 'direct' ? stack.direct
        : p === 'relay' ? { ...stack.direct, port: stack.ports.relay } // the reference relays pass the real login through
          : { host: '127.0.0.1', port: stack.ports[p], user: 'bench', database: 'bench' };
      const res = onPath('psql') ? await viaPsql(t) : await viaPg(t);
      mbps[p][r] = res.bytes / 1e6 / (res.ms / 1000);
      bytes[p][r] = res.bytes;
      samples[p] ??= res.head.split('\n')[0];
      log(`  round ${r + 1} · COPY ${p}: ${round(res.bytes / 1e6, 1)} MB in ${round(res.ms, 0)} ms = ${round(mbps[p][r], 1)} MB/s`);
    }
  }
  const maskedField = samples.policy?.split('\t')[1] ?? '';
  const masked = maskedField !== '' && !/^[0-9a-f]{32}$/.test(maskedField);
  if (!masked && paths.includes('policy')) log(`  warning: the policy COPY's h column does not look masked: ${JSON.stringify(samples.policy)}`);
  return {
    title: `Bulk transfer: ${cfg.bulkRows.toLocaleString('en-US')} rows of COPY … TO STDOUT (${onPath('psql') ? 'psql' : 'pg-copy-streams'})`,
    rows: [
      paths.includes('passthrough') && ratioRow({ measure: 'COPY out MB/s, passthrough (no masking)', unit: 'MB/s', direct: mbps.direct, hoop: mbps.passthrough, digits: 1 }),
      paths.includes('policy') && ratioRow({ measure: 'COPY out MB/s, policy (h masked: partial)', unit: 'MB/s', direct: mbps.direct, hoop: mbps.policy, digits: 1, target: { minRatio: 0.60 } }),
      paths.includes('relay') && ratioRow({ measure: 'COPY out MB/s, reference: 2 plain Node.js TCP relays', unit: 'MB/s', direct: mbps.direct, hoop: mbps.relay, digits: 1 }),
    ].filter(Boolean),
    raw: { sql: SQL, rows: cfg.bulkRows, mbps, bytes, first_row: samples, policy_output_masked: masked },
  };
}

async function viaPsql(t) {
  let n = 0;
  let head = '';
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PGSSLMODE: 'disable', ...(t.password ? { PGPASSWORD: t.password } : {}) };
  const r = await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', t.host, '-p', String(t.port), '-U', t.user, '-d', t.database, '-c', SQL], {
    env, timeoutMs: 600_000,
    onStdout: (d) => {
      if (head.length < 300) head += d.subarray(0, 300).toString();
      n += d.length;
    },
  });
  if (r.code !== 0) throw new Error(`psql COPY failed (${r.code}) on port ${t.port}: ${r.stderr.trim().slice(-1000)}`);
  return { bytes: n, ms: r.ms, head };
}

async function viaPg(t) {
  const { to: copyTo } = (await import('pg-copy-streams')).default;
  const c = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database });
  c.on('error', () => undefined);
  const started = performance.now();
  await c.connect();
  try {
    let n = 0;
    let head = '';
    const stream = c.query(copyTo(SQL));
    await new Promise((resolve, reject) => {
      stream.on('data', (d) => {
        if (head.length < 300) head += d.subarray(0, 300).toString();
        n += d.length;
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return { bytes: n, ms: performance.now() - started, head };
  } finally {
    await c.end().catch(() => undefined);
  }
}
