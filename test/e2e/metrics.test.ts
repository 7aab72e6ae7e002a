/**
 * The gateway's metrics listener as an operator's scraper sees it: `GET /metrics` on its own loopback address,
 * in the Prometheus text format, moving as a real client runs statements through a tunnel (allowed and
 * blocked), with the audit commit wait that each statement pays, and naming no user or statement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';

let stack: Stack;
let alice: User;
let port: number;
let metricsUrl: string;

beforeAll(async () => {
  stack = await startStack({
    topExtra: 'metrics: { listen: 127.0.0.1:0 }',
    shopExtra: `
    guardrails: { block: [ddl] }`,
  });
  expect(stack.gateway.metricsPort).toBeGreaterThan(0);
  metricsUrl = `http://127.0.0.1:${stack.gateway.metricsPort}/metrics`;
  alice = new User('alice', stack);
  expect((await alice.login()).code).toBe(0);
  ({ port } = await alice.connect('shop'));
});

afterAll(async () => {
  await alice?.stopAgent();
  await stack?.close();
});

/** One scrape, as `series → value` (series are the sample lines' names with their labels). */
async function scrape(): Promise<{ text: string; value: (series: string) => number }> {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { text, value: (series) => values.get(series) ?? 0 };
}

describe('gateway metrics', () => {
  it('counts sessions and statements by decision, and the audit commit each statement waited for', async () => {
    const before = await scrape();
    const client = tunnelClient(port);
    await client.connect();
    for (let i = 0; i < 3; i++) await client.query('SELECT count(*) FROM customers');
    await expect(client.query('DROP TABLE customers')).rejects.toThrow();

    const during = await scrape();
    const delta = (series: string): number => during.value(series) - before.value(series);
    expect(delta('hoop_statements_total{connection="shop",decision="allow"}')).toBe(3);
    expect(delta('hoop_statements_total{connection="shop",decision="block"}')).toBe(1);
    expect(during.value('hoop_sessions_open{connection="shop"}')).toBe(1);
    expect(delta('hoop_sessions_total{connection="shop"}')).toBe(1);
    // Each allowed statement waited for its record's commit before it ran; the session's start did too.
    expect(delta('hoop_audit_append_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(delta('hoop_audit_append_seconds_sum')).toBeGreaterThan(0);
    expect(during.value('hoop_audit_append_seconds_bucket{le="+Inf"}')).toBe(during.value('hoop_audit_append_seconds_count'));
    expect(during.value('hoop_audit_batch_records_count')).toBeGreaterThan(0);
    expect(during.value('hoop_audit_append_failures_total')).toBe(0);
    expect(during.value('process_resident_memory_bytes')).toBeGreaterThan(0);

    // Nothing about who or what: no subject, no statement text, no address.
    expect(during.text).not.toMatch(/alice|customers|DROP|127\.0\.0\.1/);

    await client.end();
    await expect.poll(async () => (await scrape()).value('hoop_sessions_open{connection="shop"}')).toBe(0);
  });

  it('serves only GET and HEAD /metrics', async () => {
    const other = await fetch(metricsUrl.replace('/metrics', '/api/v1/sessions'));
    expect(other.status).toBe(404);
    expect(await other.text()).toBe('not found: metrics are served at /metrics\n');
    const post = await fetch(metricsUrl, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});
