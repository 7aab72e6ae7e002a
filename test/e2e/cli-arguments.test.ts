/**
 * The CLI's own checks on its arguments, run as a user would (bin/hoop, no terminal). Nothing here needs a
 * gateway: these are refused before one is asked.
 */
import { mkdtempSync } from 'node:fs';
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
