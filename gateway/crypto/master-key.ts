/**
 * The gateway's master key encrypts secrets at rest. Teams running several instances set it explicitly
 * (`master_key: ${env:HOOP_MASTER_KEY}`, 32 bytes base64); a single instance generates one in its data dir
 * (mode 0600) on first start.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HoopError } from '../../shared/errors.js';

export async function loadMasterKey(opts: { configured?: string | undefined; dataDir: string }): Promise<Buffer> {
  if (opts.configured) return decode(opts.configured, 'master_key');
  const path = join(opts.dataDir, 'master.key');
  try {
    return decode((await readFile(path, 'utf8')).trim(), path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFile(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e; // another process won the race: use its key
  });
  return decode((await readFile(path, 'utf8')).trim(), path);
}

function decode(b64: string, where: string): Buffer {
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) {
    throw new HoopError('config_invalid', `${where}: the master key must be 32 bytes, base64-encoded`, {
      hint: 'generate one with `openssl rand -base64 32`',
    });
  }
  return key;
}
