import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startMetricsServer } from '../../../../gateway/metrics/metrics-server.js';
import { Registry } from '../../../../gateway/metrics/registry.js';
import { HoopError, exitCodeFor } from '../../../../shared/errors.js';
import { silentLogger } from '../../../../shared/log.js';

describe('metrics listener', () => {
  it('serves the registry at /metrics, rendered afresh for each scrape', async () => {
    const registry = new Registry();
    const c = registry.counter('hoop_test_total', 'Test.').labels();
    const served = await startMetricsServer({ host: '127.0.0.1', port: 0, registry, logger: silentLogger });
    try {
      const url = `http://127.0.0.1:${served.port}/metrics`;
      expect(await (await fetch(url)).text()).toContain('hoop_test_total 0\n');
      c.inc();
      const res = await fetch(`${url}?x=1`);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).toContain('hoop_test_total 1\n');
    } finally {
      await served.close();
    }
  });

  it('answers 500 without the details when rendering fails, and logs why', async () => {
    const registry = new Registry();
    registry.beforeRender(() => {
      throw new Error('boom');
    });
    const logged: string[] = [];
    const none = (): void => undefined;
    const logger = { trace: none, debug: none, info: none, warn: none, error: (msg: string) => logged.push(msg), child: () => logger } as unknown as typeof silentLogger;
    const served = await startMetricsServer({ host: '127.0.0.1', port: 0, registry, logger });
    try {
      const res = await fetch(`http://127.0.0.1:${served.port}/metrics`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe('the metrics could not be rendered; see the gateway log\n');
      expect(logged).toEqual(['cannot render the metrics']);
    } finally {
      await served.close();
    }
  });

  it('fails start-up as a configuration problem (exit 2) when its address is in use', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const { port } = holder.address() as AddressInfo;
    try {
      const err = await startMetricsServer({ host: '127.0.0.1', port, registry: new Registry(), logger: silentLogger }).then(
        () => new Error('it started'), (e: unknown) => e);
      expect(err).toBeInstanceOf(HoopError);
      expect((err as HoopError).message).toBe(`cannot listen for metrics on 127.0.0.1:${port}: the address is in use`);
      expect(exitCodeFor((err as HoopError).code)).toBe(2);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });
});
