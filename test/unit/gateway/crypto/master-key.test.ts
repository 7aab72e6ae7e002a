import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMasterKey } from '../../../../gateway/crypto/master-key.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoop-master-key-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('HOOP_MASTER_KEY', () => {
  it('may be a ${file:…} or ${env:…} reference, as any HOOP_* value may', async () => {
    const key = randomBytes(32);
    const file = join(dir, 'master-key');
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600 });
    expect(await loadMasterKey({ configured: `\${file:${file}}`, dataDir: join(dir, 'unused') })).toEqual(key);
    expect(await loadMasterKey({ configured: '${env:MK}', env: { MK: key.toString('base64') }, dataDir: join(dir, 'unused') })).toEqual(key);
  });

  it('names HOOP_MASTER_KEY, not a config key, when it is wrong', async () => {
    await expect(loadMasterKey({ configured: randomBytes(32).toString('hex'), dataDir: dir }))
      .rejects.toThrow('HOOP_MASTER_KEY: the master key must be 32 bytes, base64-encoded');
    await expect(loadMasterKey({ configured: `\${file:${join(dir, 'missing')}}`, dataDir: dir }))
      .rejects.toThrow(/^HOOP_MASTER_KEY: \$\{file:.*missing\} cannot be read \(ENOENT/);
  });
});
