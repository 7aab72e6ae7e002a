import { describe, expect, it } from 'vitest';
import { insecureHttpFromEnv, resolveGatewayUrl, type GatewayUrlSources } from '../../../cli/services/gateway-url.js';
import { exitCodeFor, HoopError } from '../../../shared/errors.js';

const SETTINGS = '/home/me/.config/hoop/config.json';
const from = (s: Partial<GatewayUrlSources>): GatewayUrlSources => ({ saved: () => undefined, savedPath: () => SETTINGS, ...s });

function refusal(sources: GatewayUrlSources, allowInsecureHttp = false): HoopError {
  try {
    resolveGatewayUrl(sources, allowInsecureHttp);
  } catch (e) {
    if (e instanceof HoopError) return e;
    throw e;
  }
  throw new Error('the URL was accepted');
}

describe('resolveGatewayUrl', () => {
  it.each([
    'https://hoop.example.com',
    'https://hoop.example.com:8443/',
    'http://127.0.0.1:8009',
    'http://localhost:8009/',
    'http://[::1]:8009',
    'http://127.0.0.2:8009', // loopback as the gateway's config has it (a gateway may listen there without TLS)
  ])('accepts %s', (url) => {
    expect(resolveGatewayUrl(from({ flag: url }), false)).toBe(url.replace(/\/+$/, ''));
  });

  it('takes --gateway over HOOP_GATEWAY_URL over the saved URL over the default; an empty variable is unset', () => {
    const saved = () => 'https://saved.example.com';
    expect(resolveGatewayUrl(from({ flag: 'https://flag.example.com', env: 'https://env.example.com', saved }), false)).toBe('https://flag.example.com');
    expect(resolveGatewayUrl(from({ env: 'https://env.example.com', saved }), false)).toBe('https://env.example.com');
    expect(resolveGatewayUrl(from({ env: '', saved }), false)).toBe('https://saved.example.com');
    expect(resolveGatewayUrl(from({}), false)).toBe('http://127.0.0.1:8009');
  });

  it.each([
    [{ flag: 'http://gw.example.com' }, 'http://gw.example.com', '--gateway', 'gw.example.com', 'https://gw.example.com'],
    [{ env: 'http://gw.example.com:8009/' }, 'http://gw.example.com:8009/', 'HOOP_GATEWAY_URL', 'gw.example.com:8009', 'https://gw.example.com:8009'],
    [{ saved: () => 'http://10.0.0.5' }, 'http://10.0.0.5', `the URL saved in ${SETTINGS}`, '10.0.0.5', 'https://10.0.0.5'],
    [{ flag: 'http://127.0.0.1.nip.io:8009' }, 'http://127.0.0.1.nip.io:8009', '--gateway', '127.0.0.1.nip.io:8009', 'https://127.0.0.1.nip.io:8009'],
    [{ flag: 'http://[::2]' }, 'http://[::2]', '--gateway', '[::2]', 'https://[::2]'],
    [{ flag: 'http://localhost.example.com' }, 'http://localhost.example.com', '--gateway', 'localhost.example.com', 'https://localhost.example.com'],
  ])('refuses plain http to another host (%j): a usage error (exit 2) naming the URL, where it came from and the way out', (sources, url, source, host, https) => {
    const e = refusal(from(sources));
    expect(e.code).toBe('usage');
    expect(exitCodeFor(e.code)).toBe(2);
    expect(e.message).toBe(`the gateway URL ${url} (from ${source}) uses plain http: your access tokens would travel to ${host} unencrypted`);
    expect(e.hint).toBe(`use ${https} (plain http is accepted only to this machine: localhost, 127.x.x.x or [::1]); to send tokens unencrypted anyway, pass --insecure-http or set HOOP_INSECURE_HTTP=1`);
  });

  it('accepts plain http to another host with the opt-out', () => {
    expect(resolveGatewayUrl(from({ flag: 'http://gw.example.com/' }), true)).toBe('http://gw.example.com');
    expect(resolveGatewayUrl(from({ saved: () => 'http://gw.example.com' }), true)).toBe('http://gw.example.com');
  });

  it('still refuses what is not an http(s) URL, with or without the opt-out', () => {
    for (const allow of [false, true]) {
      expect(refusal(from({ flag: 'gw.example.com' }), allow).message).toBe('"gw.example.com" is not a gateway URL');
      expect(refusal(from({ flag: 'ftp://gw.example.com' }), allow).code).toBe('usage');
    }
  });

  it('reads the saved setting only when neither the flag nor the variable is set', () => {
    let reads = 0;
    const saved = () => (reads++, 'https://saved.example.com');
    resolveGatewayUrl(from({ flag: 'https://flag.example.com', saved }), false);
    resolveGatewayUrl(from({ env: 'https://env.example.com', saved }), false);
    expect(reads).toBe(0);
  });
});

describe('insecureHttpFromEnv (HOOP_INSECURE_HTTP)', () => {
  it.each([
    [undefined, false], ['', false], ['0', false], ['false', false], ['FALSE', false],
    ['1', true], ['true', true], ['True', true],
  ])('%j is %j', (value, expected) => {
    expect(insecureHttpFromEnv(value)).toBe(expected);
  });

  it('any other value is a usage error, not a guess', () => {
    const e = (() => {
      try {
        insecureHttpFromEnv('yes');
      } catch (err) {
        return err as HoopError;
      }
      throw new Error('accepted');
    })();
    expect(e.code).toBe('usage');
    expect(e.message).toBe('HOOP_INSECURE_HTTP=yes is not 1 or 0');
  });
});
