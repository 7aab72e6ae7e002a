/**
 * The masking catalog's side connection to a target with `tls.mode: verify-full`, against the run's PostgreSQL
 * (TLS on, its certificate for 127.0.0.1 and localhost): a target named by IP address gets no TLS server name,
 * which RFC 6066 forbids (Node warns with DEP0123 in the gateway's log), and the certificate is still checked.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createCatalog } from '../../../gateway/engines/postgres/catalog.js';
import type { PostgresConnection } from '../../../gateway/connections/connection.js';
import { silentLogger } from '../../../shared/log.js';
import { pgAdminUrl } from '../../helpers/pg.js';

function target(host: string, caFile: string): PostgresConnection {
  const u = new URL(pgAdminUrl());
  return {
    name: 'tls-target', type: 'postgres', host, port: Number(u.port), database: 'postgres',
    user: decodeURIComponent(u.username), password: decodeURIComponent(u.password),
    tls: { mode: 'verify-full', ca: readFileSync(caFile, 'utf8') },
    accessGroups: [], maxDurationMs: 3_600_000, defaultLocalPort: 5433,
  };
}

let warnings: Error[];
const onWarning = (w: Error): void => void warnings.push(w);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => void process.off('warning', onWarning));

/** Reads a catalog table's columns through a fresh catalog, then closes it. */
async function columns(t: PostgresConnection): Promise<string[] | null> {
  const catalog = createCatalog(t, silentLogger);
  try {
    return await catalog.tableColumns({ schema: 'pg_catalog', name: 'pg_namespace' });
  } finally {
    await catalog.close();
  }
}

/** Lets a warning emitted on the way out reach the listener (process.emitWarning reports on the next tick). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('the catalog connection with verify-full', () => {
  it('reaches a target named by IP address with no DEP0123 warning', async () => {
    expect(await columns(target('127.0.0.1', inject('pgTlsCaFile')))).toContain('nspname');
    await settle();
    expect(warnings.map((w) => w.message)).not.toContainEqual(expect.stringContaining('TLS ServerName'));
  });

  it('reaches a target named by host name (its certificate names localhost)', async () => {
    expect(await columns(target('localhost', inject('pgTlsCaFile')))).toContain('nspname');
  });

  it('still checks the certificate of a target named by IP address', async () => {
    // The server's own certificate as the CA: it is not a CA, so the chain does not verify.
    const wrongCa = inject('pgTlsCaFile').replace('ca.pem', 'server.pem');
    await expect(columns(target('127.0.0.1', wrongCa))).rejects.toMatchObject({ code: 'upstream_unavailable' });
  });
});
