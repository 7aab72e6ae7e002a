import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../../../gateway/metrics/gateway-metrics.js';

/** The value of one sample line (`name{labels}`), or undefined when it is not rendered. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('gateway metrics', () => {
  it('counts sessions open and opened per connection', () => {
    const m = new GatewayMetrics({ version: '1.2.3' });
    m.sessionStarted('shop');
    m.sessionStarted('shop');
    m.sessionStarted('billing');
    m.sessionEnded('shop');
    const text = m.registry.render();
    expect(sample(text, 'hoop_build_info{version="1.2.3"}')).toBe(1);
    expect(sample(text, 'hoop_sessions_open{connection="shop"}')).toBe(1);
    expect(sample(text, 'hoop_sessions_total{connection="shop"}')).toBe(2);
    expect(sample(text, 'hoop_sessions_open{connection="billing"}')).toBe(1);
  });

  it('counts statements by decision, and an unknown decision as other (labels stay bounded)', () => {
    const m = new GatewayMetrics({ version: '1' });
    m.statementStarted('shop', 'allow');
    m.statementStarted('shop', 'allow');
    m.statementStarted('shop', 'block');
    m.statementStarted('shop', 'DROP TABLE users');
    const text = m.registry.render();
    expect(sample(text, 'hoop_statements_total{connection="shop",decision="allow"}')).toBe(2);
    expect(sample(text, 'hoop_statements_total{connection="shop",decision="block"}')).toBe(1);
    expect(sample(text, 'hoop_statements_total{connection="shop",decision="other"}')).toBe(1);
    expect(text).not.toContain('DROP TABLE');
  });

  it('turns committed batches into the append-wait and batch-size histograms, and failures into a counter', () => {
    const m = new GatewayMetrics({ version: '1' });
    m.batchCommitted([0.4, 2, 30]);
    m.batchCommitted([7]);
    m.batchFailed(5);
    const text = m.registry.render();
    expect(sample(text, 'hoop_audit_append_seconds_count')).toBe(4);
    expect(sample(text, 'hoop_audit_append_seconds_bucket{le="0.0005"}')).toBe(1);
    expect(sample(text, 'hoop_audit_append_seconds_bucket{le="0.0025"}')).toBe(2);
    expect(sample(text, 'hoop_audit_append_seconds_bucket{le="0.01"}')).toBe(3);
    expect(sample(text, 'hoop_audit_append_seconds_sum')).toBeCloseTo(0.0394, 10);
    expect(sample(text, 'hoop_audit_batch_records_count')).toBe(2);
    expect(sample(text, 'hoop_audit_batch_records_sum')).toBe(4);
    expect(sample(text, 'hoop_audit_append_failures_total')).toBe(5);
  });

  it('reads the process figures when rendered; CPU and loop time only go up', () => {
    const m = new GatewayMetrics({ version: '1' });
    const first = m.registry.render();
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const second = m.registry.render();
    expect(sample(second, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000);
    expect(sample(second, 'process_cpu_seconds_total')!).toBeGreaterThan(sample(first, 'process_cpu_seconds_total')!);
    expect(sample(second, 'hoop_event_loop_active_seconds_total')!).toBeGreaterThanOrEqual(sample(first, 'hoop_event_loop_active_seconds_total')!);
    expect(sample(second, 'process_start_time_seconds')!).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });
});
