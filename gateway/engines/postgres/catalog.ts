/**
 * Column origins for masking: RowDescription names a result column's table OID and attribute number; this
 * resolves them to schema, table and column through the target's catalog, once, over a small side pool with
 * the gateway's own credentials, and caches the answer.
 */
import pg from 'pg';
import type { Logger } from '../../../shared/log.js';
import { HoopError } from '../../../shared/errors.js';
import type { PostgresConnection } from '../../connections/connection.js';
import type { TableRef } from '../../policy/sql/facts.js';
import type { ColumnOrigin } from './masking-plan.js';
import { tlsServerName } from './upstream.js';

export interface Catalog {
  origins(fields: readonly { tableOid: number; columnAttr: number }[]): Promise<(ColumnOrigin | null)[]>;
  tableColumns(table: TableRef): Promise<string[] | null>;
  close(): Promise<void>;
}

export function createCatalog(target: PostgresConnection, logger: Logger): Catalog {
  let pool: pg.Pool | undefined;
  const byKey = new Map<string, ColumnOrigin | null>();
  const get = (): pg.Pool => {
    const servername = tlsServerName(target.host);
    pool ??= new pg.Pool({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
      max: 2,
      idleTimeoutMillis: 60_000,
      application_name: 'hoop-gateway-catalog',
      ssl: target.tls.mode === 'disable' ? false
        : target.tls.mode === 'require' ? { rejectUnauthorized: false }
          : { rejectUnauthorized: true, ...(target.tls.ca ? { ca: target.tls.ca } : {}), ...(servername ? { servername } : {}) },
    });
    pool.on('error', (e) => logger.warn('catalog connection failed', { error: e }));
    return pool;
  };
  const key = (oid: number, att: number): string => `${oid}:${att}`;

  return {
    async origins(fields) {
      const missing = fields.filter((f) => f.tableOid !== 0 && !byKey.has(key(f.tableOid, f.columnAttr)));
      if (missing.length) {
        try {
          const res = await get().query<{ oid: number; attnum: number; nspname: string; relname: string; attname: string }>(
            `SELECT c.oid::int AS oid, a.attnum::int AS attnum, n.nspname, c.relname, a.attname
               FROM unnest($1::oid[], $2::int2[]) AS w(oid, attnum)
               JOIN pg_class c ON c.oid = w.oid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = w.oid AND a.attnum = w.attnum`,
            [missing.map((f) => f.tableOid), missing.map((f) => f.columnAttr)],
          );
          for (const f of missing) byKey.set(key(f.tableOid, f.columnAttr), null);
          for (const r of res.rows) byKey.set(key(r.oid, r.attnum), { schema: r.nspname, table: r.relname, column: r.attname });
        } catch (e) {
          // Without origins, masking cannot be decided: the caller fails closed.
          throw new HoopError('upstream_unavailable', `cannot read ${target.name}'s catalog to apply masking`, { cause: e });
        }
      }
      return fields.map((f) => (f.tableOid === 0 ? null : byKey.get(key(f.tableOid, f.columnAttr)) ?? null));
    },

    async tableColumns(table) {
      const res = await get().query<{ attname: string }>(
        `SELECT a.attname FROM pg_attribute a
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [`${table.schema ? pg.escapeIdentifier(table.schema) + '.' : ''}${pg.escapeIdentifier(table.name)}`],
      ).catch((e: unknown) => {
        throw new HoopError('upstream_unavailable', `cannot read ${target.name}'s catalog to apply masking`, { cause: e });
      });
      return res.rows.length ? res.rows.map((r) => r.attname) : null;
    },

    async close() {
      await pool?.end().catch(() => undefined);
    },
  };
}
