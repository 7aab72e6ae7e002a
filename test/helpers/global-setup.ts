/**
 * One embedded PostgreSQL for the whole test run, under a fresh temp dir (owned by the postgres OS user when
 * running as root). Test files reach it with `inject('pgAdminUrl')` or env `HOOP_TEST_PG_URL`, and isolate
 * themselves by database (see `freshDatabase` in ./pg.ts), not by server.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensurePostgresOsUser, startEmbeddedPostgres } from '../../gateway/store/embedded.js';
import type { EmbeddedPostgres } from '../../gateway/store/embedded.js';
import { createLogger, parseLogLevel } from '../../shared/log.js';

const run = promisify(execFile);

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL to database `postgres` on the run's embedded PostgreSQL. */
    pgAdminUrl: string;
    /** PEM of the CA that signed the test server's certificate (for 127.0.0.1 and localhost). */
    pgTlsCaFile: string;
    /** That server certificate (PEM), and its private key: a matching pair, for tests of TLS settings. */
    tlsCertFile: string;
    tlsKeyFile: string;
  }
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl (Debian's, on every
 * machine image). The key must belong to the server's OS user and be 0600, or PostgreSQL refuses it.
 */
async function makeServerCertificate(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const f = (n: string): string => join(dir, n);
  const openssl = (args: string[]): Promise<unknown> => run('openssl', args);
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=hoop test CA', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')]);
  await writeFile(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.pem')]);
  await chmod(f('server.key'), 0o600);
  await chmod(f('server.pem'), 0o644);
  await chmod(f('ca.pem'), 0o644);
  if (process.getuid?.() === 0) {
    const owner = await ensurePostgresOsUser(createLogger({ level: 'warn', format: 'text' }));
    await chown(f('server.key'), owner.uid, owner.gid);
  }
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), 'hoop-test-pg-'));
  await chmod(root, 0o711); // as root, the postgres OS user must be able to pass through to data/
  const logger = createLogger({ level: parseLogLevel(process.env.HOOP_TEST_PG_LOG, 'warn'), format: 'text' });
  let server: EmbeddedPostgres;
  try {
    const tls = await makeServerCertificate(join(root, 'tls'));
    server = await startEmbeddedPostgres({
      dataDir: join(root, 'data'),
      logger,
      password: randomBytes(16).toString('hex'),
      // TLS on (not required), so tests can check the gateway's verify-full login; and roles that log in with
      // md5 or cleartext passwords, the older methods the gateway must still speak upstream.
      settings: { ssl: 'on', ssl_cert_file: tls.cert, ssl_key_file: tls.key },
      hbaPrepend: [
        'host all hoop_md5_user 127.0.0.1/32 md5',
        'host all hoop_clear_user 127.0.0.1/32 password',
        'hostnossl all hoop_tls_user 127.0.0.1/32 reject',
      ],
    });
    project.provide('pgTlsCaFile', tls.ca);
    project.provide('tlsCertFile', tls.cert);
    project.provide('tlsKeyFile', tls.key);
    process.env.HOOP_TEST_PG_CA = tls.ca;
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
