import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../../../gateway/config/load.js';
import { HoopError } from '../../../../shared/errors.js';

const IDENTITY = 'identity: { issuer: https://login.example.com, audience: hoop }\n';

function load(yamlText: string, env: Record<string, string> = {}) {
  return loadGatewayConfig({ yamlText, env: { HOME: '/home/ann', ...env }, cwd: '/work' });
}

function problems(yamlText: string): string[] {
  try {
    load(yamlText);
  } catch (err) {
    expect(err).toBeInstanceOf(HoopError);
    return (err as HoopError).details!.problems as string[];
  }
  throw new Error('the config loaded');
}

describe('metrics configuration', () => {
  it('has no metrics listener unless one is configured', () => {
    expect(load(IDENTITY).metrics).toBeUndefined();
  });

  it('takes a loopback address from the file, or from HOOP_METRICS_LISTEN over the file', () => {
    expect(load(IDENTITY + 'metrics: { listen: 127.0.0.1:9464 }').metrics).toEqual({ listen: '127.0.0.1:9464', allow_remote: false });
    expect(load(IDENTITY + 'metrics: { listen: 127.0.0.1:9464 }', { HOOP_METRICS_LISTEN: '[::1]:9500' }).metrics?.listen).toBe('[::1]:9500');
    expect(load(IDENTITY, { HOOP_METRICS_LISTEN: '127.0.0.1:9501' }).metrics?.listen).toBe('127.0.0.1:9501');
  });

  it('refuses a network address unless allow_remote says the network is trusted', () => {
    const [p] = problems(IDENTITY + 'metrics: { listen: 0.0.0.0:9464 }');
    expect(p).toBe('metrics.listen: expected a loopback address, got "0.0.0.0:9464" — metrics are served over plain HTTP: set metrics.allow_remote: true if scrapers reach it over a network you trust');
    expect(load(IDENTITY + 'metrics: { listen: 0.0.0.0:9464, allow_remote: true }').metrics?.allow_remote).toBe(true);
  });

  it('names the key and the fix for a malformed address or an unknown key', () => {
    expect(problems(IDENTITY + 'metrics: { listen: 9464 }')[0]).toMatch(/^metrics\.listen: expected host:port, got 9464 — e\.g\. metrics: \{ listen: 127\.0\.0\.1:9464 \}/);
    expect(problems(IDENTITY + 'metrics: { listen: 127.0.0.1:9464, path: /m }')[0]).toMatch(/^metrics\.path: unknown key/);
  });
});
