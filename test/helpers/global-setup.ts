/**
 * One embedded PostgreSQL for the whole test run, under a fresh temp dir (owned by the postgres OS user when
 * running as root). Test files reach it with `inject('pgAdminUrl')` or env `HOOP_TEST_PG_URL`, and isolate
 * themselves by database (see `freshDatabase` in ./pg.ts), not by server.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../gateway/store/embedded.js';
import type { EmbeddedPostgres } from '../../gateway/store/embedded.js';
import { createLogger, parseLogLevel } from '../../shared/log.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL to database `postgres` on the run's embedded PostgreSQL. */
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), 'hoop-test-pg-'));
  await chmod(root, 0o711); // as root, the postgres OS user must be able to pass through to data/
  const logger = createLogger({ level: parseLogLevel(process.env.HOOP_TEST_PG_LOG, 'warn'), format: 'text' });
  let server: EmbeddedPostgres;
  try {
    server = await startEmbeddedPostgres({ dataDir: join(root, 'data'), logger, password: randomBytes(16).toString('hex') });
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  project.provide('pgAdminUrl', server.url);
  process.env.HOOP_TEST_PG_URL = server.url;

  return async () => {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  };
}
