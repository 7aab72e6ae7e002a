/**
 * Table patterns as written in guardrails and approvals: `public.secrets`, `*.audit_*`, `pg_catalog.*`, `secrets`.
 *
 * - A pattern is matched against `schema.table`; `*` matches any run of characters (dots included).
 * - A pattern without a dot names a table in any schema: `secrets` is `*.secrets`.
 * - Matching ignores case and double quotes: `public."Secrets"` blocks both `"Secrets"` and `secrets`. Over-matching
 *   is the safe direction for a guardrail.
 * - A relation written without a schema is taken to be in `public`, and a `pg_`-prefixed one in `pg_catalog` as
 *   well, since PostgreSQL searches pg_catalog first (every relation in it is named pg_…). A session that changes
 *   search_path can still reach another schema's table by a bare name: see docs/policies.md.
 */
import type { TableRef } from './sql/facts.js';

export const DEFAULT_SCHEMA = 'public';

export type TableMatcher = (ref: TableRef) => boolean;

export function compileTablePattern(pattern: string): TableMatcher {
  const clean = pattern.replace(/"/g, '').toLowerCase();
  const full = clean.includes('.') ? clean : `*.${clean}`;
  const re = globToRegExp(full);
  return (ref) => candidates(ref).some((name) => re.test(name));
}

/** The schema-qualified names a relation reference may resolve to, lower-cased. */
function candidates(ref: TableRef): string[] {
  const name = ref.name.toLowerCase();
  if (ref.schema !== null) return [`${ref.schema.toLowerCase()}.${name}`];
  return name.startsWith('pg_') ? [`${DEFAULT_SCHEMA}.${name}`, `pg_catalog.${name}`] : [`${DEFAULT_SCHEMA}.${name}`];
}

/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${glob.split('*').map(escape).join('.*')}$`, 's');
}

/** `schema.table` as shown in messages, with the default schema filled in. */
export function qualifiedName(ref: TableRef): string {
  return `${ref.schema ?? DEFAULT_SCHEMA}.${ref.name}`;
}
