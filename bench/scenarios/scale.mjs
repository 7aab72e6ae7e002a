// Scale: N concurrent idle client connections through one agent and one gateway (passthrough). Each is opened
// and used once (SELECT 1), then held idle; RSS (VmRSS) of the agent and the gateway is read before and after.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { log, median, round, rssKiB, sleep, withTimeout } from '../lib/util.mjs';
import { valueRow } from '../lib/rows.mjs';

const BATCH = 50;

/** Median of three VmRSS readings a second apart (smooths a collection or allocation burst in progress). */
async function settledRss(pid) {
  const xs = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(1000);
    xs.push(rssKiB(pid));
  }
  return median(xs);
}

export async function scale(stack, cfg) {
  const n = cfg.scaleConnections;
  const t = { host: '127.0.0.1', port: stack.ports.passthrough, user: 'bench', database: 'bench' };
  await sleep(2000); // let both processes settle after the previous scenario
  const [agentBefore, gatewayBefore] = await Promise.all([settledRss(stack.agentPid), settledRss(stack.gatewayPid)]);
  const before = { agent: agentBefore, gateway: gatewayBefore };
  const clients = [];
  let errors = 0;
  const firstErrors = [];
  const started = performance.now();
  const deadline = started + cfg.scaleOpenBudgetMs;
  try {
    for (let i = 0; i < n && performance.now() < deadline; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, n - i) }, async () => {
        const c = new pg.Client({ ...t, connectionTimeoutMillis: 30_000 });
        c.on('error', (e) => {
          errors++;
          if (firstErrors.length < 3) firstErrors.push(`after open: ${e.message}`);
        });
        try {
          await withTimeout(c.connect(), 30_000, 'connect');
          await withTimeout(c.query('SELECT 1'), 30_000, 'SELECT 1');
          clients.push(c);
        } catch (e) {
          errors++;
          if (firstErrors.length < 3) firstErrors.push(e.message);
          await c.end().catch(() => undefined);
        }
      });
      await Promise.all(batch);
    }
    const openMs = performance.now() - started;
    const missing = n - clients.length - errors;
    if (missing > 0) {
      errors += missing;
      firstErrors.push(`${missing} connections not attempted within the ${cfg.scaleOpenBudgetMs / 1000} s budget`);
    }
    log(`  ${clients.length} connections open in ${round(openMs / 1000, 1)} s; ${errors} errors`);
    await sleep(2000); // idle: buffers drained, timers settled
    const [agentAfter, gatewayAfter] = await Promise.all([settledRss(stack.agentPid), settledRss(stack.gatewayPid)]);
    const after = { agent: agentAfter, gateway: gatewayAfter };
    // Still alive after idling?
    let dead = 0;
    const check = clients.slice(0, 50);
    await Promise.all(check.map((c) => withTimeout(c.query('SELECT 1'), 30_000, 'SELECT 1 after idle').catch(() => dead++)));
    errors += dead;
    const per = (k) => (after[k] - before[k]) / n;
    const total = per('agent') + per('gateway');
    log(`  RSS agent ${before.agent} → ${after.agent} KiB, gateway ${before.gateway} → ${after.gateway} KiB: ${round(total, 1)} KiB per connection`);
    return {
      title: `Scale: ${n.toLocaleString('en-US')} concurrent idle connections through one agent and gateway`,
      rows: [
        valueRow({ measure: 'agent RSS per connection', unit: 'KiB', values: [per('agent')], digits: 1 }),
        valueRow({ measure: 'gateway RSS per connection', unit: 'KiB', values: [per('gateway')], digits: 1 }),
        valueRow({ measure: 'agent + gateway RSS per connection', unit: 'KiB', values: [total], digits: 1, target: { max: 64 } }),
        valueRow({ measure: 'errors', unit: '', values: [errors], digits: 0, target: { equals: 0 } }),
        valueRow({ measure: 'time to open all (batches of 50)', unit: 's', values: [openMs / 1000], digits: 1 }),
      ],
      raw: { connections: n, rss_kib_before: before, rss_kib_after: after, errors, first_errors: firstErrors, open_ms: round(openMs, 0) },
      errors,
    };
  } finally {
    await Promise.all(clients.map((c) => withTimeout(c.end(), 10_000, 'end').catch(() => undefined)));
    await sleep(1000);
  }
}
