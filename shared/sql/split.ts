/**
 * Splits SQL text into statements with PostgreSQL's own parser (libpg-query), so `hoop exec` can run several
 * statements in order and report each. Comments and string literals containing ';' are handled by the parser.
 * Text that does not parse is returned whole: the gateway then refuses it as unparsable, with its reason.
 */
import { loadModule, parseSync } from 'libpg-query';

let loaded: Promise<void> | undefined;

export async function splitStatements(sql: string): Promise<string[]> {
  loaded ??= loadModule();
  await loaded;
  let stmts: { stmt_location?: number; stmt_len?: number }[];
  try {
    stmts = (parseSync(sql) as { stmts?: { stmt_location?: number; stmt_len?: number }[] }).stmts ?? [];
  } catch {
    return sql.trim() ? [sql.trim()] : [];
  }
  // Locations are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(sql, 'utf8');
  return stmts
    .map((s) => {
      const start = s.stmt_location ?? 0;
      const end = s.stmt_len ? start + s.stmt_len : bytes.length;
      return bytes.subarray(start, end).toString('utf8').trim().replace(/;\s*$/, '').trim();
    })
    .filter((s) => s.length > 0);
}
