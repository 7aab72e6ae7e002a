/**
 * `data_dir` is made only when something is kept in it: with an external `database_url` and HOOP_MASTER_KEY set,
 * the gateway writes nothing there and creates no directory; without HOOP_MASTER_KEY, only its generated key.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../../gateway/config/load.js';
import { startGateway } from '../../../gateway/gateway.js';
import { createLogger, silentLogger } from '../../../shared/log.js';
import { freshDatabase } from '../../helpers/pg.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startWith(env: Record<string, string>): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), 'hoop-data-dir-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  const db = await freshDatabase('data_dir');
  cleanups.push(() => db.drop());
  const dataDir = join(tmp, 'not', 'yet', 'there');
  const config = loadGatewayConfig({
    yamlText: `listen: 127.0.0.1:0\ndata_dir: ${dataDir}\nidentity: { issuer: http://127.0.0.1:9, audience: hoop, allow_insecure_http: true }\n`,
    env: { HOOP_DATABASE_URL: db.url },
  });
  const gw = await startGateway({ config, logger: silentLogger, env });
  await gw.close();
  return dataDir;
}

describe('data_dir with an external database_url', () => {
  it('is not created when HOOP_MASTER_KEY is set: nothing is kept there', async () => {
    const dataDir = await startWith({ HOOP_MASTER_KEY: randomBytes(32).toString('base64') });
    expect(existsSync(join(dataDir, '..', '..'))).toBe(false);
  });

  it('holds only the generated master key (0600, in a 0700 directory) when HOOP_MASTER_KEY is not set', async () => {
    const dataDir = await startWith({});
    expect(await readdir(dataDir)).toEqual(['master.key']);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
  });
});

describe('no database_url on a gateway that listens for others', () => {
  it('starts on its embedded PostgreSQL, and warns that its state stays on this machine', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hoop-data-dir-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const config = loadGatewayConfig({
      yamlText: `listen: 0.0.0.0:0\nallow_insecure_listen: true\npublic_url: http://127.0.0.1:1\ndata_dir: ${dataDir}\n`
        + 'identity: { issuer: http://127.0.0.1:9, audience: hoop, allow_insecure_http: true }\n',
      env: {},
    });
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', format: 'json', write: (l) => lines.push(l) });
    const gw = await startGateway({ config, logger, env: {} });
    await gw.close();
    const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => String(r.msg).startsWith('no database_url'));
    expect(warning).toMatchObject({ level: 'warn', data_dir: dataDir });
    expect(String(warning?.hint)).toContain('HOOP_DATABASE_URL');
  }, 120_000);
});
