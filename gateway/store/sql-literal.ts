/**
 * SQL literals for statements sent as one multi-statement simple query (which takes no parameters): the gateway
 * batches its own writes that way to pay one round trip per batch. Every value goes through here, escaped.
 */
import pg from 'pg';
import { HoopError } from '../../shared/errors.js';

export type SqlValue = string | number | boolean | Date | null | { json: unknown };

/**
 * Renders one value. Strings use `E'…'` escaping (pg.escapeLiteral) whatever `standard_conforming_strings` says;
 * `{ json }` becomes a `::jsonb` literal; dates become `::timestamptz` in UTC with milliseconds.
 */
export function sqlLiteral(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return pg.escapeLiteral(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new HoopError('internal', `cannot write ${v} as a SQL number`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return `${pg.escapeLiteral(v.toISOString())}::timestamptz`;
  return `${pg.escapeLiteral(JSON.stringify(v.json))}::jsonb`;
}

/** `(a, b, c)` of literals, for a VALUES list. */
export function sqlRow(values: readonly SqlValue[]): string {
  return `(${values.map(sqlLiteral).join(', ')})`;
}
