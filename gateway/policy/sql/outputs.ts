/**
 * Result columns of a statement, as far as the text tells: for masking, which needs to know when an output is a
 * plain column (the server reports its origin), a star, or an expression built from columns (the server reports
 * no origin, so the value is derived and must be masked whole or refused).
 */
import { aliasOf, asNode, defElems, eachObject, isObj, list, names, nodeOf, sval, tableRefOf, text, type Obj } from './ast.js';
import type { ColumnUse, CopyFacts, CopySettings, OutputColumn } from './facts.js';

export interface OutputFacts {
  outputs: OutputColumn[];
  indirectUses: ColumnUse[];
  setOperation: boolean;
  copy?: CopyFacts;
}

const NONE: OutputFacts = { outputs: [], indirectUses: [], setOperation: false };

/** Outputs of a top-level statement node. */
export function outputFacts(type: string, body: Obj): OutputFacts {
  if (type === 'CopyStmt') return copyOutputs(body);
  const relations = lazyRelationNames(body);
  if (type === 'SelectStmt') {
    if (body.intoClause !== undefined) return { ...NONE }; // SELECT INTO returns no rows
    const setOperation = isSetOperation(body);
    let first = body;
    while (isSetOperation(first) && isObj(first.larg)) first = first.larg;
    const targets = first.targetList !== undefined ? list(first.targetList) : firstValuesRow(first);
    return {
      outputs: targetsToOutputs(targets, relations, first.targetList === undefined),
      indirectUses: indirectUses(type, body, setOperation ? undefined : body, relations),
      setOperation,
    };
  }
  if (type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt' || type === 'MergeStmt') {
    return {
      outputs: targetsToOutputs(returning(body), relations, false),
      indirectUses: indirectUses(type, body, body, relations),
      setOperation: false,
    };
  }
  return { ...NONE };
}

const TRUE_WORDS = new Set(['true', 'on', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'off', 'no', '0']);

/**
 * HEADER's value, or undefined when it is not one of the plain spellings. PostgreSQL reads more (prefixes such as
 * `tr`, and `match` for COPY FROM); those are left unread, so masking refuses them: taking a header for a data
 * row is harmless, but taking a data row for the header would pass it unmasked.
 */
function headerValue(arg: unknown): boolean | undefined {
  if (arg === undefined) return true;
  const b = nodeOf(arg, 'Boolean');
  if (b) return b.boolval === true;
  const i = nodeOf(arg, 'Integer');
  if (i) return i.ival === undefined || i.ival === 0 ? false : i.ival === 1 ? true : undefined; // the parser omits 0
  const s = sval(arg)?.toLowerCase();
  if (s === undefined) return undefined;
  return TRUE_WORDS.has(s) ? true : FALSE_WORDS.has(s) ? false : undefined;
}

/** One ASCII character, as DELIMITER, QUOTE and ESCAPE must be, or undefined. */
function oneAsciiChar(arg: unknown): string | undefined {
  const s = sval(arg);
  return s !== undefined && s.length === 1 && s.charCodeAt(0) < 0x80 ? s : undefined;
}

function copySettings(options: Map<string, unknown>): CopySettings {
  const out: CopySettings = { unread: [] };
  const read = <K extends 'header' | 'delimiter' | 'null' | 'quote' | 'escape'>(name: K, value: CopySettings[K] | undefined): void => {
    if (!options.has(name)) return;
    if (value === undefined) out.unread.push(name);
    else out[name] = value;
  };
  read('header', headerValue(options.get('header')));
  read('delimiter', oneAsciiChar(options.get('delimiter')));
  read('null', sval(options.get('null')));
  read('quote', oneAsciiChar(options.get('quote')));
  read('escape', oneAsciiChar(options.get('escape')));
  return out;
}

function copyOutputs(body: Obj): OutputFacts {
  const options = defElems(body.options);
  const format = sval(options.get('format'))?.toLowerCase();
  const program = body.is_program === true;
  const table = isObj(body.relation) ? tableRefOf(body.relation) ?? null : null;
  const columns = body.attlist === undefined ? null : names(body.attlist) ?? null;
  const copy: CopyFacts = {
    direction: body.is_from === true ? 'from' : 'to',
    table,
    columns,
    query: body.query !== undefined,
    program,
    format: format === 'csv' || format === 'binary' ? format : 'text',
    stdio: body.filename === undefined && !program,
    options: [...options.keys()].map((k) => k.toLowerCase()),
    settings: copySettings(options),
  };
  if (copy.direction === 'from') return { ...NONE, copy };
  const inner = asNode(body.query);
  if (inner) return { ...outputFacts(inner.type, inner.body), copy };
  if (!table) return { ...NONE, copy };
  const qualifier = table.schema === null ? table.name : `${table.schema}.${table.name}`;
  const outputs: OutputColumn[] = columns === null
    ? [{ position: 1, name: null, source: { kind: 'star', table: qualifier } }]
    : columns.map((column, i) => ({ position: i + 1, name: column, source: { kind: 'column', table: qualifier, column } }));
  return { outputs, indirectUses: [], setOperation: false, copy };
}

function isSetOperation(select: Obj): boolean {
  return select.op !== undefined && select.op !== 'SETOP_NONE';
}

function returning(dml: Obj): unknown[] {
  const clause = dml.returningClause;
  return isObj(clause) ? list(clause.exprs) : list(dml.returningList);
}

/** VALUES (a, b), (c, d): the first row names and types the columns. */
function firstValuesRow(select: Obj): unknown[] {
  return list(nodeOf(list(select.valuesLists)[0], 'List')?.items);
}

function targetsToOutputs(targets: unknown[], relations: NameSet, values: boolean): OutputColumn[] {
  return targets.map((t, i) => {
    const rt = values ? undefined : nodeOf(t, 'ResTarget');
    const val = values ? t : rt?.val;
    const source = sourceOf(val, relations);
    if (isFieldStar(val) && source.kind === 'expression') {
      // The server names and counts these columns by the row's type, which the text does not show.
      return { position: i + 1, name: null, source: { ...source, expands: true } };
    }
    return {
      position: i + 1,
      name: values ? `column${i + 1}` : text(rt?.name) ?? figureName(val),
      source,
    };
  });
}

/** `(expr).*` or `(expr).field.*`: every field of a row value, as that many result columns. */
function isFieldStar(val: unknown): boolean {
  const ind = nodeOf(val, 'A_Indirection');
  return ind !== undefined && list(ind.indirection).some((i) => nodeOf(i, 'A_Star') !== undefined);
}

function sourceOf(val: unknown, relations: NameSet): OutputColumn['source'] {
  const ref = nodeOf(val, 'ColumnRef');
  if (ref) {
    const fields = list(ref.fields);
    const qualifier = qualifierOf(fields);
    if (nodeOf(fields.at(-1), 'A_Star')) return { kind: 'star', table: qualifier };
    const column = sval(fields.at(-1));
    if (column !== undefined && !(qualifier === null && relations.has(column))) return { kind: 'column', table: qualifier, column };
  }
  const uses: ColumnUse[] = [];
  const wholeRow: string[] = [];
  for (const r of columnRefs(val)) addUse(r, relations, uses, wholeRow);
  return { kind: 'expression', uses: dedupeUses(uses), wholeRow: [...new Set(wholeRow)] };
}

/**
 * Every column a subtree references, subqueries included; a possible whole row (`c`, `c.*`, `*`) as
 * `{ table: 'c', column: '*' }` (`table: null` for a bare `*`).
 */
export function columnUsesIn(v: unknown, relations: NameSet): ColumnUse[] {
  const uses: ColumnUse[] = [];
  const wholeRow: string[] = [];
  for (const r of columnRefs(v)) addUse(r, relations, uses, wholeRow);
  for (const w of wholeRow) uses.push({ table: w === '*' ? null : w, column: '*' });
  return dedupeUses(uses);
}

/**
 * A bare name that is also a relation in the statement may be a whole-row reference (`SELECT c FROM customers c`,
 * `row_to_json(c)`); without the catalog it may equally be a column, so it counts as both.
 */
function addUse(ref: Obj, relations: NameSet, uses: ColumnUse[], wholeRow: string[]): void {
  const fields = list(ref.fields);
  const qualifier = qualifierOf(fields);
  if (nodeOf(fields.at(-1), 'A_Star')) {
    wholeRow.push(qualifier ?? '*');
    return;
  }
  const column = sval(fields.at(-1));
  if (column === undefined) return;
  uses.push({ table: qualifier, column });
  if (qualifier === null && relations.has(column)) wholeRow.push(column);
}

function qualifierOf(fields: unknown[]): string | null {
  const q = names(fields.slice(0, -1));
  return q && q.length > 0 ? q.join('.') : null;
}

/** Every ColumnRef inside a subtree, subqueries included. */
function columnRefs(v: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(v)) {
    for (const item of v) columnRefs(item, out);
  } else if (isObj(v)) {
    const ref = nodeOf(v, 'ColumnRef');
    if (ref) out.push(ref);
    else for (const k in v) columnRefs(v[k], out);
  }
  return out;
}

/**
 * Column references in the target lists of every query other than `top` (subqueries, CTE bodies, set-operation
 * arms), in RETURNING lists of nested DML, in VALUES lists and in the arguments of FROM-clause functions.
 */
function indirectUses(rootType: string, root: Obj, top: Obj | undefined, relations: NameSet): ColumnUse[] {
  const uses: ColumnUse[] = [];
  const add = (v: unknown): void => {
    uses.push(...columnUsesIn(v, relations));
  };
  const visitQuery = (type: string, body: Obj): void => {
    if (body !== top) add(type === 'SelectStmt' ? body.targetList : returning(body));
    add(body.valuesLists);
    if (isObj(body.larg)) visitQuery('SelectStmt', body.larg);
    if (isObj(body.rarg)) visitQuery('SelectStmt', body.rarg);
    visit(body);
  };
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (!isObj(v)) return;
    const n = asNode(v);
    if (n && ['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'].includes(n.type)) {
      visitQuery(n.type, n.body);
      return;
    }
    if (n?.type === 'RangeFunction') add(n.body.functions);
    // larg/rarg are a set operation's sides (visited as queries above), but also a JOIN's two sides: visit those.
    if (n?.type === 'JoinExpr') {
      visit(n.body.larg);
      visit(n.body.rarg);
    }
    for (const k in v) if (k !== 'larg' && k !== 'rarg') visit(v[k]);
  };
  visitQuery(rootType, root);
  return dedupeUses(uses);
}

export interface NameSet {
  has(name: string): boolean;
}

/** relationNames(root), computed on first use: most statements never ask. */
export function lazyRelationNames(root: Obj): NameSet {
  let set: Set<string> | undefined;
  return { has: (name) => (set ??= relationNames(root)).has(name) };
}

/** Every relation name, alias and CTE name in the statement: bare names matching one may be whole-row references. */
function relationNames(root: Obj): Set<string> {
  const out = new Set<string>();
  // Every body is visited as an object of its own too (after its wrapper), so wrappers need no special case.
  eachObject(root, (v) => {
    const relname = text(v.relname);
    if (relname !== undefined) out.add(relname);
    const alias = aliasOf(v);
    if (alias !== undefined) out.add(alias);
    const cte = nodeOf(v, 'CommonTableExpr');
    const ctename = cte ? text(cte.ctename) : undefined;
    if (ctename !== undefined) out.add(ctename);
  });
  return out;
}

function dedupeUses(uses: ColumnUse[]): ColumnUse[] {
  const seen = new Map<string, ColumnUse>();
  for (const u of uses) seen.set(`${u.table ?? ''}\u0000${u.column}`, u);
  return [...seen.values()];
}

/** The column name PostgreSQL gives an unnamed result column (FigureColname), or null for "?column?". */
function figureName(val: unknown): string | null {
  const n = asNode(val);
  if (!n) return null;
  const b = n.body;
  switch (n.type) {
    case 'ColumnRef':
      return sval(list(b.fields).at(-1)) ?? null;
    case 'A_Indirection':
      return sval(list(b.indirection).at(-1)) ?? figureName(b.arg);
    case 'FuncCall':
      return names(b.funcname)?.at(-1) ?? null;
    case 'TypeCast':
      return figureName(b.arg) ?? names(isObj(b.typeName) ? b.typeName.names : undefined)?.at(-1) ?? null;
    case 'CollateClause':
      return figureName(b.arg);
    case 'SubLink': {
      if (b.subLinkType === 'EXISTS_SUBLINK') return 'exists';
      if (b.subLinkType === 'ARRAY_SUBLINK') return 'array';
      const target = nodeOf(list(nodeOf(b.subselect, 'SelectStmt')?.targetList)[0], 'ResTarget');
      return b.subLinkType === 'EXPR_SUBLINK' && target ? text(target.name) ?? figureName(target.val) : null;
    }
    case 'CaseExpr':
      return 'case';
    case 'A_ArrayExpr':
      return 'array';
    case 'RowExpr':
      return 'row';
    case 'CoalesceExpr':
      return 'coalesce';
    case 'MinMaxExpr':
      return b.op === 'IS_GREATEST' ? 'greatest' : 'least';
    case 'GroupingFunc':
      return 'grouping';
    default:
      return null;
  }
}
