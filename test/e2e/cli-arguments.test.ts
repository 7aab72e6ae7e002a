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
