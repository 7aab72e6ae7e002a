/**
 * SQL literals for statements sent as one multi-statement simple query (which takes no parameters): the gateway
 * batches its own writes that way to pay one round trip per batch. Every value goes through here, escaped.
 */
import { HoopError } from '../../shared/errors.js';

export type SqlValue = string | number | boolean | Date | null | { json: unknown };

/**
 * A string literal, as libpq's PQescapeLiteral (and node-postgres' escapeLiteral) writes it: quotes doubled, and a
 * string holding a backslash written as ` E'…'` with backslashes doubled, so it reads the same whatever
 * `standard_conforming_strings` says. Whole-string replacements, not a loop per character: the audit log renders
 * every record's JSON through here.
 */
export function quoteLiteral(s: string): string {
  const quoted = s.includes("'") ? s.replaceAll("'", "''") : s;
  return s.includes('\\') ? ` E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/**
 * Renders one value. Strings as {@link quoteLiteral}; `{ json }` becomes a `::jsonb` literal; dates become
 * `::timestamptz` in UTC with milliseconds.
 */
export function sqlLiteral(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return quoteLiteral(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new HoopError('internal', `cannot write ${v} as a SQL number`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return `${quoteLiteral(v.toISOString())}::timestamptz`;
  return `${quoteLiteral(JSON.stringify(v.json))}::jsonb`;
}

/** `(a, b, c)` of literals, for a VALUES list. */
export function sqlRow(values: readonly SqlValue[]): string {
  return `(${values.map(sqlLiteral).join(', ')})`;
}
