// Control-plane latencies we promise in the docs (no target):
// - revoke: from the revoke API call returning to the client's socket closing (a live tunnel, a fresh grant each);
// - approval: from the approve API call returning to the held query resolving (negative: the query resolved
//   before the HTTP answer reached us). Also reported from the call's start.
/* global fetch */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { CONN } from '../lib/stack.mjs';
import { log, round, withTimeout } from '../lib/util.mjs';
import { valueRow } from '../lib/rows.mjs';

async function api(stack, path, token) {
  const res = await fetch(`${stack.gatewayUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${body.slice(0, 300)}`);
  return body;
}

function tunnelClient(port) {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'bench', database: 'bench' });
  return c;
}

export async function revokeLatency(stack, cfg) {
  const samples = [];
  for (let i = 0; i < cfg.latencySamples; i++) {
    const { port, grantId } = await stack.connect(CONN.revoke);
    const c = tunnelClient(port);
    c.on('error', () => undefined);
    await withTimeout(c.connect(), 20_000, 'connect through the revoke tunnel');
    await c.query('SELECT 1');
    const closed = new Promise((resolve) => c.connection.stream.once('close', () => resolve(performance.now())));
    await api(stack, `/v1/grants/${encodeURIComponent(grantId)}/revoke`, stack.token);
    const returned = performance.now();
    const at = await withTimeout(closed, 15_000, 'the revoked tunnel to close');
    samples.push(at - returned);
    log(`  revoke sample ${i + 1}: socket closed ${round(at - returned, 1)} ms after the revoke call returned`);
    await c.end().catch(() => undefined);
    await stack.hoop(['disconnect', CONN.revoke]).catch(() => undefined);
  }
  return samples;
}

export async function approvalLatency(stack, cfg) {
  const { port } = await stack.connect(CONN.approval);
  const afterReturn = [];
  const afterCall = [];
  const c = tunnelClient(port);
  c.on('error', () => undefined);
  await withTimeout(c.connect(), 20_000, 'connect through the approval tunnel');
  try {
    for (let i = 0; i < cfg.latencySamples; i++) {
      let onReview;
      const reviewId = new Promise((resolve) => (onReview = resolve));
      const onNotice = (n) => {
        const m = /Review (\S+) is waiting/.exec(n.message ?? '');
        if (m) onReview(m[1]);
      };
      c.on('notice', onNotice);
      let doneAt;
      const held = c.query(`DELETE FROM bench_approval WHERE id = ${-1 - i}`).then(() => (doneAt = performance.now()));
      const id = await withTimeout(reviewId, 15_000, 'the review notice');
      c.off('notice', onNotice);
      const called = performance.now();
      await api(stack, `/v1/reviews/${encodeURIComponent(id)}/approve`, stack.approverToken);
      const returned = performance.now();
      await withTimeout(held, 15_000, 'the approved statement');
      afterReturn.push(doneAt - returned);
      afterCall.push(doneAt - called);
      log(`  approval sample ${i + 1}: query resolved ${round(doneAt - returned, 1)} ms after the approve call returned (${round(doneAt - called, 1)} ms after it started)`);
    }
  } finally {
    await c.end().catch(() => undefined);
  }
  return { afterReturn, afterCall };
}

export async function latency(stack, cfg) {
  const revoke = await revokeLatency(stack, cfg);
  const approval = await approvalLatency(stack, cfg);
  const list = (xs) => xs.map((x) => round(x, 1)).join(', ');
  return {
    title: 'Control-plane latency (no target; promised in the docs)',
    rows: [
      valueRow({ measure: `revoke → client socket closed, median (samples: ${list(revoke)} ms)`, unit: 'ms', values: revoke, digits: 0 }),
      valueRow({ measure: 'revoke → client socket closed, max', unit: 'ms', values: [Math.max(...revoke)], digits: 0 }),
      valueRow({ measure: `approve returned → held query resolved, median (samples: ${list(approval.afterReturn)} ms)`, unit: 'ms', values: approval.afterReturn, digits: 1 }),
      valueRow({ measure: `approve called → held query resolved, median (samples: ${list(approval.afterCall)} ms)`, unit: 'ms', values: approval.afterCall, digits: 1 }),
    ],
    raw: { revoke_ms: revoke.map((x) => round(x, 2)), approval_after_return_ms: approval.afterReturn.map((x) => round(x, 2)), approval_after_call_ms: approval.afterCall.map((x) => round(x, 2)) },
  };
}
