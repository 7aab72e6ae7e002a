/**
 * SQL text → facts, synchronously: PostgreSQL's parser (libpg-query, WASM) and one walk per statement.
 *
 * This module runs both on the main thread and inside the parser worker (see parser.ts), so it must stay free of
 * I/O and of anything but libpg-query and its sibling modules. `loadSqlModule()` must have resolved before the
 * first call.
 */
import './wasm-flags.js'; // before libpg-query, which compiles its module on import
import { hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import { HoopError } from '../../../shared/errors.js';
import { asNode, utf8Slicer } from './ast.js';
import { commandOf, kindOf } from './classify.js';
import type { ParsedSql, StatementFacts } from './facts.js';
import { outputFacts } from './outputs.js';
import { SIDE_CHANNEL_FUNCTIONS, sideChannelCalls } from './side-channels.js';
import { FactCollector } from './walk.js';

/** Loads the WASM parser (about 40 ms); idempotent. */
export async function loadSqlModule(): Promise<void> {
  await loadModule();
}

/**
 * Facts about one top-level statement.
 *
 * @param stmt the statement node (`RawStmt.stmt`) as libpg-query prints it, e.g. `{ DeleteStmt: {…} }`
 * @param text the statement's own text
 */
export function analyze(stmt: unknown, text: string): StatementFacts {
  const node = asNode(stmt);
  if (!node) throw new HoopError('internal', 'analyze: expected a statement node from libpg-query');
  const collector = new FactCollector();
  collector.statement(node.type, node.body);
  const out = outputFacts(node.type, node.body);
  const kind = kindOf(node.type, node.body);
  // Another walk of the tree, only for the few statements that call one of these at all.
  const sideChannels = [...SIDE_CHANNEL_FUNCTIONS].some((fn) => collector.functions.has(fn)) ? sideChannelCalls(node.body) : [];
  const facts: StatementFacts = {
    text,
    kind,
    command: commandOf(node.type, node.body),
    kinds: [...new Set([kind, ...collector.kinds])],
    classes: [...collector.classes],
    tables: collector.tables,
    writtenTables: collector.writtenTables,
    functions: [...collector.functions],
    outputs: out.outputs,
    indirectUses: out.indirectUses,
    setOperation: out.setOperation,
    doTables: collector.doTables,
    sideChannels,
    unverifiable: collector.unverifiable,
  };
  if (out.copy) facts.copy = out.copy;
  const releases = releasedStatements(node.type, node.body);
  if (releases !== undefined) facts.releases = releases;
  return facts;
}

/** {@link StatementFacts.releases}: a name, null for all, undefined when the statement removes none. */
function releasedStatements(type: string, body: Record<string, unknown>): string | null | undefined {
  if (type === 'DeallocateStmt') return body.isall === true || typeof body.name !== 'string' ? null : body.name;
  if (type === 'DiscardStmt' && body.target === 'DISCARD_ALL') return null;
  return undefined;
}

/**
 * Parses a (possibly multi-statement) string. A string that does not parse is a result, not an exception:
 * `{ ok: false, error }` with the parser's message and position. So is one nested deeper than this thread's stack
 * allows to walk (thousands of levels): it cannot be checked.
 */
export function parseSql(sql: string): ParsedSql {
  try {
    return parseSqlOnThisStack(sql);
  } catch (err) {
    if (err instanceof RangeError) return { ok: false, error: 'the statement is nested too deeply to be checked' };
    throw err;
  }
}

/**
 * {@link parseSql}, except that a stack overflow escapes as a RangeError, so that the caller can try again on a
 * thread with a larger stack (parser.ts's worker).
 */
export function parseSqlOnThisStack(sql: string): ParsedSql {
  // The WASM parser reads a C string: it would stop at a NUL and check less than what was sent.
  if (sql.includes('\0')) return { ok: false, error: 'the statement contains a NUL character' };
  if (sql.trim() === '') return { ok: true, statements: [] };
  let stmts;
  try {
    stmts = parseSync(sql).stmts ?? [];
  } catch (err) {
    if (err instanceof RangeError) throw err; // libpg-query's JSON.parse of a very deep tree
    return { ok: false, error: parseErrorMessage(err) };
  }
  const slice = utf8Slicer(sql);
  const statements = stmts.map((raw) => {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : undefined; // 0 or absent: to the end of the string
    return analyze(raw.stmt, slice(start, end).trim());
  });
  return { ok: true, statements };
}

function parseErrorMessage(err: unknown): string {
  if (hasSqlDetails(err) && err.sqlDetails) return `${err.message} (at character ${err.sqlDetails.cursorPosition + 1})`;
  return err instanceof Error ? err.message : String(err);
}
