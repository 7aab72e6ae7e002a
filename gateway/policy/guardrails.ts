/**
 * The guardrail decision for one client message: a pure function of the parsed statements, the connection's
 * guardrails and its approval rules. The engine turns a block into the protocol's own error (SQLSTATE 42501 for
 * PostgreSQL) and an approval into a statement review.
 *
 * Order: unparsable → unverifiable dynamic SQL → guard classes → functions → tables → approvals → allow. The
 * first match wins, across every statement of a multi-statement string: one blocked statement blocks the message.
 */
import type { GuardClass, ParsedSql, StatementFacts, StatementKind, TableRef } from './sql/facts.js';
import { compileTablePattern, globToRegExp, qualifiedName, type TableMatcher } from './table-pattern.js';

export interface GuardrailPolicy {
  block: {
    classes: GuardClass[];
    /**
     * Function names, matched case-insensitively by bare name: `pg_catalog.lo_export` also blocks `lo_export(…)`
     * and `other.lo_export(…)`. `*` matches any characters: `dblink*`, `pg_read_*`.
     */
    functions: string[];
    /** Table patterns (see table-pattern.ts). */
    tables: string[];
  };
  /** Custom text per rule name: 'ddl', 'function:dblink', 'table:public.secrets', 'unparsable', 'unverifiable'. */
  messages: Partial<Record<string, string>>;
}

export interface ApprovalRule {
  name: string;
  statements: StatementKind[];
  /** Table patterns; empty matches any table. */
  tables: string[];
  approvers: string[];
  min_approvals: number;
  timeout_ms: number;
}

export type Decision =
  | { action: 'allow' }
  | { action: 'block'; rule: string; message: string }
  | { action: 'approve'; rule: ApprovalRule; message: string };

/** A policy that blocks nothing (a connection without guardrails still refuses what does not parse). */
export const EMPTY_GUARDRAILS: GuardrailPolicy = { block: { classes: [], functions: [], tables: [] }, messages: {} };

const CLASS_MESSAGES: Readonly<Record<GuardClass, string>> = {
  ddl: 'hoop: DDL is blocked on this connection',
  truncate: 'hoop: TRUNCATE is blocked on this connection',
  delete_without_where: 'hoop: DELETE without WHERE is blocked',
  update_without_where: 'hoop: UPDATE without WHERE is blocked',
  copy_program: 'hoop: COPY to or from a PROGRAM is blocked on this connection',
  grant: 'hoop: GRANT and REVOKE are blocked on this connection',
};

export function evaluate(parsed: ParsedSql, policy: GuardrailPolicy, approvals: readonly ApprovalRule[]): Decision {
  if (!parsed.ok) {
    return block(policy, 'unparsable', 'hoop: the statement could not be parsed, so it was not run', parsed.error);
  }
  const statements = parsed.statements;
  for (const s of statements) {
    const reason = s.unverifiable[0];
    if (reason !== undefined) {
      return block(policy, 'unverifiable', 'hoop: the statement runs SQL that cannot be checked, so it was not run', reason);
    }
  }
  const classes = new Set(policy.block.classes);
  for (const s of statements) {
    const hit = s.classes.find((c) => classes.has(c));
    if (hit) return block(policy, hit, CLASS_MESSAGES[hit]);
  }
  const functionRules = cached(functionCache, policy.block.functions, compileFunctionPattern);
  for (const [i, name] of policy.block.functions.entries()) {
    const matches = functionRules[i]!;
    const hit = statements.flatMap((s) => s.functions).find(matches);
    if (hit !== undefined) {
      return block(policy, `function:${name}`, `hoop: calling ${hit}() is blocked on this connection`);
    }
  }
  const tableRules = cached(tableCache, policy.block.tables, compileTablePattern);
  for (const s of statements) {
    for (const t of s.tables) {
      const i = tableRules.findIndex((m) => m(t));
      if (i >= 0) {
        const pattern = policy.block.tables[i]!;
        return block(policy, `table:${pattern}`, `hoop: access to ${qualifiedName(t)} is blocked on this connection`);
      }
    }
  }
  for (const rule of approvals) {
    if (statements.some((s) => approvalMatches(rule, s))) {
      const n = rule.min_approvals;
      return {
        action: 'approve',
        rule,
        message: `hoop: this statement needs ${n} approval${n === 1 ? '' : 's'} from ${rule.approvers.join(' or ')} (rule ${rule.name})`,
      };
    }
  }
  return { action: 'allow' };
}

function block(policy: GuardrailPolicy, rule: string, defaultText: string, detail?: string): Decision {
  const custom = policy.messages[rule];
  const text = custom ?? defaultText;
  const withDetail = detail === undefined ? text : `${text}: ${detail}`;
  return { action: 'block', rule, message: `${withDetail} (rule ${rule})` };
}

function approvalMatches(rule: ApprovalRule, s: StatementFacts): boolean {
  if (!s.kinds.some((k) => rule.statements.includes(k))) return false;
  if (rule.tables.length === 0) return true;
  const tables: TableRef[] = [...s.tables, ...s.writtenTables];
  const ms = cached(tableCache, rule.tables, compileTablePattern);
  return tables.some((t) => ms.some((m) => m(t)));
}

/** A function pattern as a test on the bare, lower-cased names in StatementFacts.functions. */
function compileFunctionPattern(name: string): FunctionMatcher {
  const bare = name.toLowerCase().split('.').at(-1) ?? '';
  if (!bare.includes('*')) return (fn) => fn === bare;
  const re = globToRegExp(bare);
  return (fn) => !fn.includes('.') && re.test(fn);
}

type FunctionMatcher = (fn: string) => boolean;

// Compiled patterns, cached per (frozen) pattern list so each statement does not rebuild regular expressions.
const tableCache = new WeakMap<readonly string[], TableMatcher[]>();
const functionCache = new WeakMap<readonly string[], FunctionMatcher[]>();

function cached<T>(cache: WeakMap<readonly string[], T[]>, patterns: readonly string[], compile: (p: string) => T): T[] {
  let ms = cache.get(patterns);
  if (!ms) {
    ms = patterns.map(compile);
    cache.set(patterns, ms);
  }
  return ms;
}
