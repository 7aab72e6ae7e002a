/**
 * The CLI's own checks on its arguments, run as a user would (bin/hoop, no terminal). Nothing here needs a
 * gateway: these are refused before one is asked.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHoop } from '../helpers/stack.js';

const env = { HOOP_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'hoop-args-')), HOOP_GATEWAY_URL: 'http://127.0.0.1:9' };

describe('empty names and ids ("" from an unset shell variable)', () => {
  it.each([
    [['revoke', ''], '<grant-id> is empty', 'hoop revoke --help'],
    [['sessions', 'show', ''], '<id> is empty', 'hoop sessions show --help'],
    [['sessions', 'replay', '  '], '<id> is empty', 'hoop sessions replay --help'],
    [['exec', '', '-i', 'SELECT 1'], '<connection> is empty', 'hoop exec --help'],
    [['connect', ''], '<connection> is empty', 'hoop connect --help'],
    [['approve', ''], '<id> is empty', 'hoop approve --help'],
  ])('hoop %j is a usage error naming the argument', async (args, message, help) => {
    const r = await runHoop(args, { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: ${message}\nhint: see \`${help}\`\n`);
  });
});

describe('other checks made before anything starts', () => {
  it('hoop demo refuses a port that is not one, before starting PostgreSQL', async () => {
    for (const [flag, value] of [['--port', 'abc'], ['--idp-port', '0'], ['--port', '70000']] as const) {
      const r = await runHoop(['demo', flag, value], { env: { ...env, HOOP_DEMO_DIR: join(env.HOOP_CONFIG_DIR, 'demo') } });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`error: ${flag} ${value} is not a TCP port\nhint: use a port from 1 to 65535\n`);
      expect(r.stdout).toBe('');
    }
  });

  it('hoop connect --json without --detach is a usage error, before a grant is asked for', async () => {
    // Without --detach, connect holds the tunnel in the foreground: JSON would be printed, then nothing returns.
    const r = await runHoop(['connect', 'shop', '--json'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error: --json needs --detach: without it, hoop connect holds the tunnel in the foreground\n'
      + 'hint: add --detach to print the tunnel as JSON and return: hoop connect shop --detach --json\n',
    );
    expect(r.stdout).toBe('');
  });

  it('an empty HOOP_GATEWAY_URL counts as unset, as shells treat it', async () => {
    const r = await runHoop(['whoami'], { env: { ...env, HOOP_GATEWAY_URL: '' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('not logged in to http://127.0.0.1:8009');
    expect(r.stderr).not.toContain('is not a gateway URL');
  });
});

describe('a plain http:// gateway URL on another host (bearer tokens would travel unencrypted)', () => {
  const url = 'http://gw.example.com:8009';
  const refused = (from: string): string =>
    `error: the gateway URL ${url} (from ${from}) uses plain http: your access tokens would travel to gw.example.com:8009 unencrypted\n`
    + 'hint: use https://gw.example.com:8009 (plain http is accepted only to this machine: localhost, 127.x.x.x or [::1]); '
    + 'to send tokens unencrypted anyway, pass --insecure-http or set HOOP_INSECURE_HTTP=1\n';

  it.each([
    [['login']], [['login', '--device']], [['login', '--client-credentials', '--client-id', 'ci-bot']], [['logout']], [['whoami']],
    [['connect', 'shop']], [['connections']], [['grants', '--json']], [['revoke', 'g-1']], [['exec', 'shop', '-i', 'SELECT 1']],
    [['sessions']], [['reviews']], [['audit', 'verify']], [['audit', 'keys']],
  ])('hoop %j --gateway http://… is refused (exit 2) before anything is sent', async (args) => {
    const r = await runHoop([...args, '--gateway', url], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(refused('--gateway'));
    expect(r.stdout).toBe('');
  });

  it('from HOOP_GATEWAY_URL, and from the URL saved in the settings, just the same, naming where it came from', async () => {
    const viaEnv = await runHoop(['grants', '--json'], { env: { ...env, HOOP_GATEWAY_URL: url } });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toBe(refused('HOOP_GATEWAY_URL'));
    const dir = mkdtempSync(join(tmpdir(), 'hoop-args-saved-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ gateway_url: url }));
    const viaSaved = await runHoop(['whoami'], { env: { HOOP_CONFIG_DIR: dir } });
    expect(viaSaved.code).toBe(2);
    expect(viaSaved.stderr).toBe(refused(`the URL saved in ${join(dir, 'config.json')}`));
  });

  it('--insecure-http, or HOOP_INSECURE_HTTP=1, accepts it for that command (here: on to "not logged in")', async () => {
    for (const [args, extra] of [[['whoami', '--insecure-http'], {}], [['whoami'], { HOOP_INSECURE_HTTP: '1' }]] as const) {
      const r = await runHoop([...args], { env: { ...env, HOOP_GATEWAY_URL: url, ...extra } });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`not logged in to ${url}`);
    }
  });

  it('HOOP_INSECURE_HTTP with a value that is not 1 or 0 is a usage error, not a guess', async () => {
    const r = await runHoop(['whoami'], { env: { ...env, HOOP_GATEWAY_URL: url, HOOP_INSECURE_HTTP: 'yes' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: HOOP_INSECURE_HTTP=yes is not 1 or 0');
  });

  it('http:// to this machine needs no opt-out', async () => {
    for (const local of ['http://localhost:9', 'http://[::1]:9', 'http://127.0.0.1:9']) {
      const r = await runHoop(['whoami', '--gateway', local], { env });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`not logged in to ${local}`);
    }
  });
});

