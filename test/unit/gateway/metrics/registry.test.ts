import { describe, expect, it } from 'vitest';
import { Registry, formatValue } from '../../../../gateway/metrics/registry.js';

describe('metrics registry (Prometheus text format 0.0.4)', () => {
  it('renders counters and gauges with HELP, TYPE and one line per label set, in creation order', () => {
    const r = new Registry();
    const c = r.counter('hoop_things_total', 'Things seen.', ['connection', 'decision']);
    c.labels('shop', 'allow').inc();
    c.labels('shop', 'allow').inc(2);
    c.labels('billing', 'block').inc();
    const g = r.gauge('hoop_open', 'Open now.');
    g.labels().inc(5);
    g.labels().dec(2);
    expect(r.render()).toBe([
      '# HELP hoop_things_total Things seen.',
      '# TYPE hoop_things_total counter',
      'hoop_things_total{connection="shop",decision="allow"} 3',
      'hoop_things_total{connection="billing",decision="block"} 1',
      '# HELP hoop_open Open now.',
      '# TYPE hoop_open gauge',
      'hoop_open 3',
      '',
    ].join('\n'));
  });

  it('escapes label values and help text as the format requires', () => {
    const r = new Registry();
    r.counter('x_total', 'a \\ back\nslash', ['name']).labels('say "hi"\\\n').inc();
    expect(r.render()).toBe('# HELP x_total a \\\\ back\\nslash\n# TYPE x_total counter\nx_total{name="say \\"hi\\"\\\\\\n"} 1\n');
  });

  it('renders histograms with cumulative buckets, +Inf, _sum and _count', () => {
    const r = new Registry();
    const h = r.histogram('wait_seconds', 'Waits.', [0.001, 0.01, 0.1]).labels();
    for (const v of [0.0005, 0.001, 0.002, 0.05, 3]) h.observe(v);
    expect(r.render().split('\n')).toEqual([
      '# HELP wait_seconds Waits.',
      '# TYPE wait_seconds histogram',
      'wait_seconds_bucket{le="0.001"} 2', // a value equal to a bound is in that bucket
      'wait_seconds_bucket{le="0.01"} 3',
      'wait_seconds_bucket{le="0.1"} 4',
      'wait_seconds_bucket{le="+Inf"} 5',
      'wait_seconds_sum 3.0535',
      'wait_seconds_count 5',
      '',
    ]);
  });

  it('puts a histogram\'s labels before le', () => {
    const r = new Registry();
    r.histogram('h', 'H.', [1], ['connection']).labels('shop').observe(2);
    expect(r.render()).toContain('h_bucket{connection="shop",le="1"} 0\nh_bucket{connection="shop",le="+Inf"} 1\nh_sum{connection="shop"} 2\n');
  });

  it('runs beforeRender hooks on every render, so values read on demand are current', () => {
    const r = new Registry();
    const g = r.gauge('now', 'N.').labels();
    let n = 0;
    r.beforeRender(() => g.set(++n));
    expect(r.render()).toContain('now 1\n');
    expect(r.render()).toContain('now 2\n');
  });

  it('refuses what would render an invalid exposition', () => {
    const r = new Registry();
    r.counter('a_total', 'A.');
    expect(() => r.counter('a_total', 'again')).toThrow('metric a_total is registered twice');
    expect(() => r.counter('bad-name', 'B.')).toThrow('invalid metric name');
    expect(() => r.histogram('h2', 'H.', [1], ['le'])).toThrow('invalid label name');
    expect(() => r.histogram('h3', 'H.', [1, 1])).toThrow('buckets must increase');
    expect(() => r.counter('c_total', 'C.', ['a']).labels()).toThrow('c_total takes 1 label value(s), got 0');
    expect(() => r.counter('d_total', 'D.').labels().inc(-1)).toThrow('a counter only goes up');
  });

  it('formats special values as the format spells them', () => {
    expect([formatValue(Infinity), formatValue(-Infinity), formatValue(NaN), formatValue(0.25)]).toEqual(['+Inf', '-Inf', 'NaN', '0.25']);
  });
});
