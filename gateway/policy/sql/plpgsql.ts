/**
 * DO blocks: the body is parsed with PostgreSQL's PL/pgSQL parser and every SQL statement and expression in it
 * is handed back to the fact collector, so `DO $$ BEGIN DROP TABLE t; END $$` is DDL like `DROP TABLE t` is.
 *
 * Dynamic SQL (`EXECUTE`, `FOR … IN EXECUTE`, `OPEN … FOR EXECUTE`) is checked when its string is a constant
 * that can be computed here: literals, `||`, concat(), format() with constant arguments, quote_ident(),
 * quote_literal(), casts to text. Anything else is unverifiable, and policy blocks unverifiable statements.
 */
import './wasm-flags.js'; // before libpg-query, which compiles its module on import
import { parsePlPgSQLSync, parseSync, scanSync } from 'libpg-query';
import { asNode, defElems, isObj, list, names, nodeOf, sval, text, utf8Slicer, type Obj } from './ast.js';
import type { StatementKind } from './facts.js';

/** Where the collector takes what a DO block contains. */
export interface SqlSink {
  /** Parses `sql` as statements and walks them (a parse error makes the DO block unverifiable). */
  statements(sql: string, origin: string): void;
  /** Parses `SELECT <sql>` and walks it without counting a SELECT: PL/pgSQL evaluates expressions that way. */
  expression(sql: string, origin: string): void;
  kind(kind: StatementKind): void;
  markUnverifiable(reason: string): void;
}

/** PL/pgSQL nodes whose expression is a string to be run as SQL. */
const DYNAMIC_SQL = new Set([
  'PLpgSQL_stmt_dynexecute.query', 'PLpgSQL_stmt_dynfors.query', 'PLpgSQL_stmt_open.dynquery', 'PLpgSQL_stmt_return_query.dynquery',
]);

/** RawParseMode values the PL/pgSQL parser records on each expression. */
const PARSE_MODE = { default: 0, typeName: 1, expression: 2, assign1: 3, assign2: 4, assign3: 5 } as const;

const ORIGIN = 'DO block';

export function inspectDoBlock(doStmt: Obj, sink: SqlSink): void {
  const args = defElems(doStmt.args);
  const language = (sval(args.get('language')) ?? 'plpgsql').toLowerCase();
  if (language !== 'plpgsql') {
    sink.markUnverifiable(`${ORIGIN} in language ${language}: only plpgsql can be checked`);
    return;
  }
  const body = sval(args.get('as'));
  if (body === undefined) {
    sink.markUnverifiable(`${ORIGIN} without a body`);
    return;
  }
  let tree: unknown;
  try {
    // The PL/pgSQL parser reads function definitions; a DO body compiles as a void function without arguments.
    tree = parsePlPgSQLSync(`CREATE FUNCTION hoop_do() RETURNS void LANGUAGE plpgsql AS '${body.replace(/'/g, "''")}'`);
  } catch (err) {
    sink.markUnverifiable(`${ORIGIN}: the PL/pgSQL does not parse (${err instanceof Error ? err.message : String(err)})`);
    return;
  }
  walk(tree, sink, '', '');
}

function walk(v: unknown, sink: SqlSink, parentType: string, key: string): void {
  if (Array.isArray(v)) {
    for (const item of v) walk(item, sink, parentType, key);
    return;
  }
  if (!isObj(v)) return;
  const n = asNode(v);
  if (!n) {
    for (const k in v) walk(v[k], sink, parentType, k);
    return;
  }
  if (n.type === 'PLpgSQL_expr') {
    expression(n.body, sink, DYNAMIC_SQL.has(`${parentType}.${key}`));
    return;
  }
  if (n.type === 'PLpgSQL_stmt_commit' || n.type === 'PLpgSQL_stmt_rollback') sink.kind('transaction');
  for (const k in n.body) walk(n.body[k], sink, n.type, k);
}

function expression(expr: Obj, sink: SqlSink, dynamic: boolean): void {
  const query = text(expr.query);
  if (query === undefined) return;
  if (dynamic) {
    sink.expression(query, ORIGIN); // functions called while building the string count too
    const sql = constantString(query);
    if (sql === undefined) sink.markUnverifiable(`${ORIGIN}: EXECUTE of a string built at run time (${short(query)})`);
    else sink.statements(sql, `${ORIGIN} EXECUTE`);
    return;
  }
  switch (expr.parseMode ?? PARSE_MODE.default) {
    case PARSE_MODE.default:
      sink.statements(query, ORIGIN);
      return;
    case PARSE_MODE.typeName:
      return;
    case PARSE_MODE.assign1:
    case PARSE_MODE.assign2:
    case PARSE_MODE.assign3:
      assignment(query, sink);
      return;
    default:
      sink.expression(query, ORIGIN);
  }
}

/** `target := value`: the target may hold subscript expressions, the value is an expression (with FROM…). */
function assignment(query: string, sink: SqlSink): void {
  let tokens: { start: number; end: number; text: string }[];
  try {
    tokens = scanSync(query).tokens;
  } catch (err) {
    sink.markUnverifiable(`${ORIGIN}: an assignment does not parse (${err instanceof Error ? err.message : String(err)})`);
    return;
  }
  let depth = 0;
  for (const t of tokens) {
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (depth === 0 && (t.text === ':=' || t.text === '=')) {
      const slice = utf8Slicer(query);
      sink.expression(slice(0, t.start), ORIGIN);
      sink.expression(slice(t.end), ORIGIN);
      return;
    }
  }
  sink.expression(query, ORIGIN);
}

function short(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}

/** The value of a constant string expression, or undefined when it depends on anything computed at run time. */
export function constantString(expr: string): string | undefined {
  let val: unknown;
  try {
    const stmts = parseSync(`SELECT ${expr}`).stmts ?? [];
    const select = stmts.length === 1 ? nodeOf(stmts[0]?.stmt, 'SelectStmt') : undefined;
    const targets = list(select?.targetList);
    if (!select || targets.length !== 1 || select.fromClause !== undefined || select.whereClause !== undefined) return undefined;
    val = nodeOf(targets[0], 'ResTarget')?.val;
  } catch {
    return undefined;
  }
  return evaluate(val);
}

const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'char', 'name', 'unknown']);

function evaluate(v: unknown): string | undefined {
  const n = asNode(v);
  if (!n) return undefined;
  const b = n.body;
  switch (n.type) {
    case 'A_Const':
      return constant(b);
    case 'TypeCast': {
      const type = names(isObj(b.typeName) ? b.typeName.names : undefined)?.at(-1);
      return type !== undefined && TEXT_TYPES.has(type) ? evaluate(b.arg) : undefined;
    }
    case 'A_Expr': {
      const op = names(b.name)?.at(-1);
      if (b.kind !== 'AEXPR_OP' || op !== '||') return undefined;
      const l = evaluate(b.lexpr);
      const r = evaluate(b.rexpr);
      return l === undefined || r === undefined ? undefined : l + r;
    }
    case 'FuncCall':
      return callConstant(b);
    default:
      return undefined;
  }
}

function constant(c: Obj): string | undefined {
  if (isObj(c.sval)) return text(c.sval.sval) ?? '';
  if (isObj(c.ival)) return String(typeof c.ival.ival === 'number' ? c.ival.ival : 0);
  if (isObj(c.fval)) return text(c.fval.fval);
  if (isObj(c.boolval)) return c.boolval.boolval === true ? 'true' : 'false';
  return undefined; // NULL or a bit string
}

function callConstant(call: Obj): string | undefined {
  if (call.agg_star === true || call.over !== undefined || call.func_variadic === true) return undefined;
  const fn = names(call.funcname);
  if (!fn || fn.length > 2 || (fn.length === 2 && fn[0] !== 'pg_catalog')) return undefined;
  const args: string[] = [];
  for (const a of list(call.args)) {
    const s = evaluate(a);
    if (s === undefined) return undefined;
    args.push(s);
  }
  switch (fn.at(-1)) {
    case 'concat':
      return args.join('');
    case 'concat_ws':
      return args.length === 0 ? undefined : args.slice(1).join(args[0]);
    case 'format':
      return args.length === 0 ? undefined : format(args[0]!, args.slice(1));
    case 'quote_ident':
      return args.length === 1 ? quoteIdent(args[0]!) : undefined;
    case 'quote_literal':
    case 'quote_nullable':
      return args.length === 1 ? quoteLiteral(args[0]!) : undefined;
    case 'lower':
      return args.length === 1 ? args[0]!.toLowerCase() : undefined;
    case 'upper':
      return args.length === 1 ? args[0]!.toUpperCase() : undefined;
    default:
      return undefined;
  }
}

/** PostgreSQL's format() for %s, %I, %L, %% and positions (%2$s); width and flags are given up on. */
export function format(fmt: string, args: readonly string[]): string | undefined {
  let out = '';
  let next = 0;
  const re = /%(?:(\d+)\$)?([^%]?)/gy;
  let i = 0;
  while (i < fmt.length) {
    const pct = fmt.indexOf('%', i);
    if (pct < 0) {
      out += fmt.slice(i);
      break;
    }
    out += fmt.slice(i, pct);
    if (fmt[pct + 1] === '%') {
      out += '%';
      i = pct + 2;
      continue;
    }
    re.lastIndex = pct;
    const m = re.exec(fmt);
    const type = m?.[2];
    if (!m || (type !== 's' && type !== 'I' && type !== 'L')) return undefined;
    const index = m[1] !== undefined ? Number(m[1]) - 1 : next;
    const arg = args[index];
    if (arg === undefined) return undefined;
    next = index + 1;
    out += type === 's' ? arg : type === 'I' ? quoteIdent(arg) : quoteLiteral(arg);
    i = re.lastIndex;
  }
  return out;
}

/** quote_ident(), except that keywords are left unquoted: the result then fails to parse, which blocks it. */
function quoteIdent(s: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}

function quoteLiteral(s: string): string {
  const body = s.replace(/'/g, "''");
  return s.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}
