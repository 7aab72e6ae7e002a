/**
 * One pass over a statement's parse tree collecting what policy decides on: statement kinds and guard classes
 * anywhere inside (CTEs, subqueries, EXPLAIN ANALYZE, PREPARE, DO bodies), relations read and written (those
 * inside DO bodies also apart, for masking), and every function called.
 *
 * The walk is generic: it descends into every field of every node, so a construct this file does not name is
 * still searched for relations, function calls and nested statements. Only the few places where meaning depends
 * on position are special-cased (CTE scopes, DML targets, EXPLAIN without ANALYZE, DO bodies).
 */
import './wasm-flags.js'; // before libpg-query, which compiles its module on import
import { parseSync } from 'libpg-query';
import {
  asNode, defElems, defTruthy, isBareRangeVar, isObj, list, names, nodeOf, tableRefOf, tableRefOfNames, text,
  type Obj,
} from './ast.js';
import { classesOf, isStatementNode, kindOf } from './classify.js';
import type { GuardClass, StatementKind, TableRef } from './facts.js';
import { inspectDoBlock, type SqlSink } from './plpgsql.js';
import { setConfigProblem, setStatementProblem } from './settings.js';

/** How deep DO blocks may nest through EXECUTE before the rest is called unverifiable. */
const MAX_DYNAMIC_DEPTH = 4;

/** DROP of these object types removes a relation, named as a list of strings. */
const RELATION_DROPS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE']);

/** Fields through which DDL statements name the relation they create or change. */
const DDL_TARGET_FIELDS = ['relation', 'view', 'sequence', 'typevar', 'table'];

function tableKey(t: TableRef): string {
  return `${t.schema ?? ''}\u0000${t.name}`;
}

export class FactCollector implements SqlSink {
  readonly kinds = new Set<StatementKind>();
  readonly classes = new Set<GuardClass>();
  readonly functions = new Set<string>();
  readonly unverifiable: string[] = [];
  private readonly tableMap = new Map<string, TableRef>();
  private readonly writtenMap = new Map<string, TableRef>();
  private readonly doTableMap = new Map<string, TableRef>();
  /** CTE names visible at the current point, innermost last. */
  private readonly cteScopes: Set<string>[] = [];
  /** > 0 inside EXPLAIN without ANALYZE: the statement is planned, not run. */
  private notExecuted = 0;
  /** DO bodies being walked, nested through EXECUTE; > 0 inside a DO block. */
  private doDepth = 0;

  get tables(): TableRef[] {
    return [...this.tableMap.values()];
  }

  get writtenTables(): TableRef[] {
    return [...this.writtenMap.values()];
  }

  /** Relations referenced inside DO bodies, read or written. */
  get doTables(): TableRef[] {
    return [...this.doTableMap.values()];
  }

  /** Walks any part of a parse tree. */
  visit(v: unknown): void {
    if (Array.isArray(v)) {
      for (const item of v) this.visit(item);
      return;
    }
    if (!isObj(v)) return;
    const n = asNode(v);
    if (n) this.node(n.type, n.body);
    else if (isBareRangeVar(v)) this.relation(v);
    else this.fields(v);
  }

  /**
   * Walks a statement node; `recordKind` false for the SELECT wrapped around a PL/pgSQL expression. A VALUES list
   * inside another statement (INSERT … VALUES) is not a SELECT of its own.
   */
  statement(type: string, body: Obj, recordKind = true): void {
    const valuesOnly = type === 'SelectStmt' && body.targetList === undefined && body.valuesLists !== undefined;
    if (recordKind && !valuesOnly && this.notExecuted === 0) {
      const kind = kindOf(type, body);
      this.kinds.add(kind);
      // What a statement may also do, so approval rules on update/delete see it: an upsert updates, and a MERGE
      // updates, deletes or inserts as its WHEN clauses say.
      if (type === 'InsertStmt' && isObj(body.onConflictClause) && body.onConflictClause.action === 'ONCONFLICT_UPDATE') this.kinds.add('update');
      if (type === 'MergeStmt' && Array.isArray(body.mergeWhenClauses)) {
        for (const w of body.mergeWhenClauses) {
          const cmd = isObj(w) && isObj(w.MergeWhenClause) ? w.MergeWhenClause.commandType : undefined;
          if (cmd === 'CMD_UPDATE') this.kinds.add('update');
          if (cmd === 'CMD_DELETE') this.kinds.add('delete');
          if (cmd === 'CMD_INSERT') this.kinds.add('insert');
        }
      }
      for (const c of classesOf(type, body, kind)) this.classes.add(c);
      this.writeTargets(type, body, kind);
    }
    switch (type) {
      case 'ExplainStmt':
        this.explain(body);
        return;
      case 'DoStmt':
        this.doBlock(body);
        return;
      case 'CallStmt':
        if (isObj(body.funccall)) this.funcCall(body.funccall); // a bare FuncCall struct
        break;
      case 'VariableSetStmt':
        this.setting(body);
        break;
      case 'AlterSystemStmt':
      case 'AlterRoleSetStmt':
      case 'AlterDatabaseSetStmt':
        if (isObj(body.setstmt)) this.setting(body.setstmt);
        break;
      default:
        break;
    }
    if (isObj(body.withClause)) this.withScope(body.withClause, () => this.fields(body, 'withClause'));
    else this.fields(body);
  }

  // SqlSink, for DO bodies ------------------------------------------------------------------------------

  statements(sql: string, origin: string): void {
    const result = this.parseNested(sql, origin);
    for (const raw of result ?? []) {
      const n = asNode(raw.stmt);
      if (n) this.node(n.type, n.body);
    }
  }

  expression(sql: string, origin: string): void {
    const result = this.parseNested(`SELECT ${sql}`, origin);
    for (const [i, raw] of (result ?? []).entries()) {
      const n = asNode(raw.stmt);
      if (!n) continue;
      if (i === 0 && n.type === 'SelectStmt') this.statement(n.type, n.body, false);
      else this.node(n.type, n.body);
    }
  }

  kind(kind: StatementKind): void {
    if (this.notExecuted === 0) this.kinds.add(kind);
  }

  markUnverifiable(reason: string): void {
    if (!this.unverifiable.includes(reason)) this.unverifiable.push(reason);
  }

  // ------------------------------------------------------------------------------------------------------

  private parseNested(sql: string, origin: string): { stmt?: unknown }[] | undefined {
    try {
      return parseSync(sql).stmts ?? [];
    } catch (err) {
      this.markUnverifiable(`${origin}: the SQL does not parse (${err instanceof Error ? err.message : String(err)})`);
      return undefined;
    }
  }

  private node(type: string, body: Obj): void {
    if (type === 'RangeVar') this.relation(body);
    else if (type === 'FuncCall') {
      this.funcCall(body);
      this.fields(body);
    } else if (isStatementNode(type)) this.statement(type, body);
    else this.fields(body);
  }

  private fields(body: Obj, skip?: string): void {
    for (const k in body) if (k !== skip) this.visit(body[k]);
  }

  private relation(rangeVar: Obj): void {
    const ref = tableRefOf(rangeVar);
    if (!ref) return;
    if (ref.schema === null && this.cteScopes.some((s) => s.has(ref.name))) return; // a CTE, not a table
    this.referenced(ref);
  }

  private written(ref: TableRef | undefined): void {
    if (!ref) return;
    this.referenced(ref);
    this.writtenMap.set(tableKey(ref), ref);
  }

  private referenced(ref: TableRef): void {
    const key = tableKey(ref);
    this.tableMap.set(key, ref);
    if (this.doDepth > 0) this.doTableMap.set(key, ref);
  }

  private writtenRangeVar(v: unknown): void {
    const bare = isObj(v) && isBareRangeVar(v) ? v : nodeOf(v, 'RangeVar');
    if (bare) this.written(tableRefOf(bare));
  }

  private writeTargets(type: string, body: Obj, kind: StatementKind): void {
    switch (type) {
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
      case 'RefreshMatViewStmt':
        this.writtenRangeVar(body.relation);
        return;
      case 'TruncateStmt':
        for (const r of list(body.relations)) this.writtenRangeVar(r);
        return;
      case 'CopyStmt':
        if (body.is_from === true) this.writtenRangeVar(body.relation);
        return;
      case 'SelectStmt':
        if (isObj(body.intoClause)) this.writtenRangeVar(body.intoClause.rel);
        return;
      case 'CreateTableAsStmt':
        if (isObj(body.into)) this.writtenRangeVar(body.into.rel);
        return;
      case 'CreateForeignTableStmt':
        if (isObj(body.base)) this.writtenRangeVar(body.base.relation);
        return;
      case 'DropStmt':
        if (RELATION_DROPS.has(text(body.removeType) ?? '')) {
          for (const o of list(body.objects)) this.written(tableRefOfNames(names(nodeOf(o, 'List')?.items) ?? []));
        }
        return;
      default:
        if (kind === 'ddl') for (const f of DDL_TARGET_FIELDS) this.writtenRangeVar(body[f]);
    }
  }

  private funcCall(body: Obj): void {
    const parts = names(body.funcname)?.map((p) => p.toLowerCase());
    if (!parts || parts.length === 0) return;
    for (let i = 0; i < parts.length; i++) this.functions.add(parts.slice(i).join('.'));
    if (parts.at(-1) === 'set_config') {
      const problem = setConfigProblem(body);
      if (problem !== undefined) this.markUnverifiable(problem);
    }
  }

  private setting(setstmt: Obj): void {
    const problem = setStatementProblem(setstmt);
    if (problem !== undefined) this.markUnverifiable(problem);
  }

  /**
   * A CTE's name hides a table of the same name only where the CTE is visible: in the statement it belongs to,
   * in later CTEs of the same WITH, and in its own body only when WITH RECURSIVE.
   */
  private withScope(withClause: Obj, rest: () => void): void {
    const scope = new Set<string>();
    this.cteScopes.push(scope);
    try {
      const ctes = list(withClause.ctes).map((c) => nodeOf(c, 'CommonTableExpr')).filter((c) => c !== undefined);
      const recursive = withClause.recursive === true;
      if (recursive) for (const c of ctes) scope.add(text(c.ctename) ?? '');
      for (const c of ctes) {
        this.fields(c);
        scope.add(text(c.ctename) ?? '');
      }
      rest();
    } finally {
      this.cteScopes.pop();
    }
  }

  /** EXPLAIN ANALYZE runs its statement; plain EXPLAIN only plans it (its relations and functions still count). */
  private explain(body: Obj): void {
    const options = defElems(body.options);
    const analyze = options.has('analyze') && defTruthy(options.get('analyze'));
    if (!analyze) this.notExecuted++;
    try {
      this.visit(body.query);
    } finally {
      if (!analyze) this.notExecuted--;
    }
  }

  private doBlock(body: Obj): void {
    if (this.doDepth >= MAX_DYNAMIC_DEPTH) {
      this.markUnverifiable('DO block: nested too deeply through EXECUTE to check');
      return;
    }
    this.doDepth++;
    try {
      inspectDoBlock(body, this);
    } finally {
      this.doDepth--;
    }
  }
}
