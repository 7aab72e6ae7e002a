/**
 * Small helpers over libpg-query's JSON parse tree.
 *
 * The tree prints most nodes wrapped, `{ "SelectStmt": { …fields } }`, but fields whose C type is a specific struct
 * arrive unwrapped (`DeleteStmt.relation` is a bare RangeVar, `SelectStmt.larg` a bare SelectStmt). Walkers
 * therefore treat any plain object as a struct to descend into, and recognise a bare RangeVar by its `relname`.
 */
import type { TableRef } from './facts.js';

export type Obj = Record<string, unknown>;

export interface Node {
  type: string;
  body: Obj;
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A wrapped node (`{ TypeName: {…} }`), or undefined for anything else. */
export function asNode(v: unknown): Node | undefined {
  if (!isObj(v)) return undefined;
  let type: string | undefined;
  for (const k in v) {
    if (type !== undefined) return undefined; // more than one key: a plain struct
    type = k;
  }
  if (type === undefined || !/^[A-Z]/.test(type)) return undefined;
  const body = v[type];
  return isObj(body) ? { type, body } : undefined;
}

/** Calls `fn` on every plain object in the tree under `root` (wrappers and bodies alike), depth first. */
export function eachObject(root: unknown, fn: (o: Obj) => void): void {
  if (Array.isArray(root)) {
    for (const item of root) eachObject(item, fn);
    return;
  }
  if (!isObj(root)) return;
  fn(root);
  for (const k in root) eachObject(root[k], fn);
}

/** The node's body when it is of `type`. */
export function nodeOf(v: unknown, type: string): Obj | undefined {
  const n = asNode(v);
  return n?.type === type ? n.body : undefined;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The value of a `String` node. */
export function sval(v: unknown): string | undefined {
  return text(nodeOf(v, 'String')?.sval);
}

/** A list of `String` nodes as strings, or undefined when any item is something else (`A_Star`…). */
export function names(v: unknown): string[] | undefined {
  const out: string[] = [];
  for (const item of list(v)) {
    const s = sval(item);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

/** A bare (unwrapped) RangeVar struct. */
export function isBareRangeVar(v: Obj): boolean {
  return typeof v.relname === 'string';
}

export function tableRefOf(rangeVar: Obj): TableRef | undefined {
  const name = text(rangeVar.relname);
  if (name === undefined) return undefined;
  return { schema: text(rangeVar.schemaname) ?? null, name };
}

/** `[schema, name]` or `[catalog, schema, name]` as a TableRef (DROP TABLE's object lists). */
export function tableRefOfNames(parts: readonly string[]): TableRef | undefined {
  const name = parts[parts.length - 1];
  if (name === undefined) return undefined;
  return { schema: parts.length >= 2 ? parts[parts.length - 2]! : null, name };
}

/** The alias of a RangeVar, RangeSubselect, RangeFunction or JoinExpr. */
export function aliasOf(body: Obj): string | undefined {
  const alias = body.alias;
  return isObj(alias) ? text(alias.aliasname) : undefined;
}

/** The `DefElem` options of a statement as name → argument node. */
export function defElems(options: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const o of list(options)) {
    const d = nodeOf(o, 'DefElem');
    const name = text(d?.defname);
    if (d && name !== undefined) out.set(name.toLowerCase(), d.arg);
  }
  return out;
}

/**
 * A DefElem argument read as a boolean the way PostgreSQL's defGetBoolean does. Anything not clearly false
 * counts as true: callers use this to decide whether a statement executes, so doubt errs towards "it does".
 */
export function defTruthy(arg: unknown): boolean {
  if (arg === undefined) return true;
  const s = sval(arg);
  if (s !== undefined) return !['false', 'off', 'no', '0'].includes(s.toLowerCase());
  const b = nodeOf(arg, 'Boolean');
  if (b) return b.boolval === true;
  const i = nodeOf(arg, 'Integer');
  if (i) return i.ival !== undefined && i.ival !== 0;
  return true;
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * A slicer over `sql` by the parser's offsets, which count UTF-8 bytes, not UTF-16 code units. `end` undefined
 * means to the end of the string. The buffer is built once per string, not once per statement.
 */
export function utf8Slicer(sql: string): (start: number, end?: number) => string {
  if (!NON_ASCII.test(sql)) return (start, end) => sql.slice(start, end);
  const bytes = Buffer.from(sql, 'utf8');
  return (start, end) => bytes.subarray(start, end).toString('utf8');
}
