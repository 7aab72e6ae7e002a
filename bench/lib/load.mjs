// Select-only load: pgbench's built-in `-S` script, or (when pgbench is missing) a pg-based generator that
// sends the same statement (`SELECT abalance FROM pgbench_accounts WHERE aid = <random>`) over N connections.
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { onPath, run } from './util.mjs';

export const HAVE_PGBENCH = Boolean(onPath('pgbench'));

/**
 * One select-only run; resolves { tps, tool, failed } (tps excludes the initial connection time).
 * `target`: { host, port, user, password?, database }; `scale` bounds the random aid.
 */
export async function selectOnly(target, { clients, seconds, scale }) {
  return HAVE_PGBENCH ? pgbenchSelect(target, clients, seconds) : builtinSelect(target, clients, seconds, scale);
}

async function pgbenchSelect(t, clients, seconds) {
  const args = ['-n', '-S', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds),
    '-h', t.host, '-p', String(t.port), '-U', t.user, t.database];
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PGSSLMODE: 'disable', ...(t.password ? { PGPASSWORD: t.password } : {}) };
  const r = await run('pgbench', args, { env, timeoutMs: (seconds + 120) * 1000 });
  const m = /tps = ([\d.]+)/.exec(r.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`pgbench failed (${r.code}) against port ${t.port}: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
  return { tps: Number(m[1]), tool: 'pgbench', failed: failed ? Number(failed[1]) : 0, transactions: processed ? Number(processed[1]) : null };
}

async function builtinSelect(t, clients, seconds, scale) {
  const rows = scale * 100_000;
  const conns = [];
  try {
    for (let i = 0; i < clients; i++) {
      const c = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password, database: t.database });
      c.on('error', () => undefined);
      await c.connect();
      conns.push(c);
    }
    let count = 0;
    let failed = 0;
    const start = performance.now();
    const deadline = start + seconds * 1000;
    await Promise.all(conns.map(async (c) => {
      while (performance.now() < deadline) {
        const aid = 1 + Math.floor(Math.random() * rows);
        try {
          await c.query(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`);
          count++;
        } catch {
          failed++;
        }
      }
    }));
    const elapsed = (performance.now() - start) / 1000;
    return { tps: count / elapsed, tool: 'builtin', failed, transactions: count };
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  }
}
