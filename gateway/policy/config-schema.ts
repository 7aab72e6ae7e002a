/**
 * Schemas for a connection's `guardrails:` and `approvals:` keys (docs/policies.md), and their conversion into
 * what {@link evaluate} takes.
 *
 * ```yaml
 * guardrails:
 *   block:
 *     - ddl
 *     - delete_without_where
 *     - { function: dblink }
 *     - { table: public.secrets, message: Ask the security team for an export }
 *     - { class: truncate, message: Use a migration }
 *   messages: { unparsable: "hoop only runs SQL it can parse" }
 * approvals:
 *   - name: payments-writes
 *     match: { statements: [delete, update], tables: [public.payments] }
 *     approvers: [dba]
 *     min_approvals: 1
 *     timeout: 10m
 * ```
 *
 * Messages follow gateway/config/schema.ts: "<what was expected> — <how to fix it>", which the config loader
 * splits to insert the key path and the offending value. Durations keep their string and gain a `_ms` sibling.
 */
import { z } from 'zod';
import { parseDuration } from '../../shared/duration.js';
import type { ApprovalRule, GuardrailPolicy } from './guardrails.js';
import { GUARD_CLASSES, STATEMENT_KINDS, type GuardClass, type StatementKind } from './sql/facts.js';

/** Same form as gateway/config/schema.ts's `problem` (not imported: that schema imports this file). */
function problem(expected: string, fix: string): string {
  return `${expected} — ${fix}`;
}

const e = (expected: string, fix: string) => ({ error: problem(expected, fix) });

function text(fix: string) {
  const err = e('expected a non-empty string', fix);
  return z.string(err).min(1, err);
}

function isDuration(s: string): boolean {
  try {
    parseDuration(s);
    return true;
  } catch {
    return false;
  }
}

const CLASS_LIST = GUARD_CLASSES.join(', ');
const KIND_LIST = STATEMENT_KINDS.join(', ');
const ALWAYS_ON_RULES = ['unparsable', 'unverifiable'] as const;

const guardClass = z.enum(GUARD_CLASSES, e(`expected a guard class (${CLASS_LIST})`, 'use one of those, or { function: name } or { table: pattern }'));

const blockObject = z
  .strictObject({
    class: guardClass.optional(),
    function: text('name the function, e.g. dblink, pg_catalog.lo_export or dblink*').optional(),
    table: text("write a table pattern such as public.secrets or '*.audit_*'").optional(),
    message: text('write the text the client sees when this rule blocks a statement').optional(),
  }, e('expected a guard class or a mapping', 'e.g. ddl, { function: dblink } or { table: public.secrets }'))
  .superRefine((o, ctx) => {
    const set = [o.class, o.function, o.table].filter((v) => v !== undefined).length;
    if (set !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: problem('expected exactly one of class, function or table', 'write one rule per entry, e.g. { function: dblink }'),
      });
    }
  });

/** A bare string is a guard class; a mapping names one class, function or table (and optionally a message). */
const blockEntry = z.unknown().transform((v, ctx) => {
  const r = typeof v === 'string' ? guardClass.safeParse(v) : blockObject.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue({ ...issue });
  return z.NEVER;
});

type BlockEntry = GuardClass | { class?: GuardClass; function?: string; table?: string; message?: string };

/** The rule name an entry blocks under: 'ddl', 'function:dblink', 'table:public.secrets'. */
function ruleName(entry: BlockEntry): string {
  if (typeof entry === 'string') return entry;
  if (entry.class !== undefined) return entry.class;
  return entry.function !== undefined ? `function:${entry.function}` : `table:${entry.table ?? ''}`;
}

export const guardrailsSchema = z
  .strictObject({
    block: z
      .array(blockEntry, e('expected a list of rules', 'e.g. block: [ddl, truncate, { function: dblink }]'))
      .transform((entries) => entries as BlockEntry[])
      .default([]),
    messages: z
      .record(z.string(), text('write the text the client sees'), e('expected a mapping of rule → message', 'e.g. messages: { ddl: Schema changes go through migrations }'))
      .default({}),
  }, e('expected a mapping', 'e.g. guardrails: { block: [ddl, truncate, delete_without_where] }'))
  .superRefine((g, ctx) => {
    const rules = new Set<string>([...g.block.map(ruleName), ...ALWAYS_ON_RULES]);
    for (const key of Object.keys(g.messages)) {
      if (!rules.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['messages', key],
          input: key,
          message: problem(
            `expected the name of a rule in guardrails.block (${[...rules].join(', ')})`,
            'rule names are a class (ddl), function:<name> or table:<pattern>; add the rule to block or fix the key',
          ),
        });
      }
    }
  });

const approvalSchema = z
  .strictObject({
    name: text('name the rule, e.g. payments-writes; it is shown to the user and the approvers').optional(),
    match: z.strictObject({
      statements: z
        .array(
          z.enum(STATEMENT_KINDS, e(`expected a statement kind (${KIND_LIST})`, 'use one of those kinds')),
          e('expected a list of statement kinds', 'e.g. statements: [delete, update]'),
        )
        .min(1, e('expected at least one statement kind', 'e.g. statements: [delete, update]')),
      tables: z
        .array(text("write a table pattern such as public.payments or 'billing.*'"), e('expected a list of table patterns', 'e.g. tables: [public.payments]; leave it out to match any table'))
        .default([]),
    }, e('expected a mapping', 'e.g. match: { statements: [delete, update], tables: [public.payments] }')),
    approvers: z
      .array(text('name a group whose members may approve'), e('expected a list of groups', 'e.g. approvers: [dba]'))
      .min(1, e('expected at least one group', 'e.g. approvers: [dba]')),
    min_approvals: z
      .number(e('expected a whole number of at least 1', 'set how many approvers must agree, e.g. 1'))
      .int(e('expected a whole number of at least 1', 'set how many approvers must agree, e.g. 1'))
      .min(1, e('expected a whole number of at least 1', 'set how many approvers must agree, e.g. 1'))
      .default(1),
    timeout: z
      .string(e('expected a duration such as 30s, 10m or 1h', 'set how long a statement waits for approval'))
      .refine(isDuration, e('expected a duration such as 30s, 10m or 1h', 'set how long a statement waits for approval'))
      .default('10m'),
  }, e('expected a mapping', 'e.g. { match: { statements: [delete] }, approvers: [dba] }'))
  .transform((a) => ({ ...a, timeout_ms: parseDuration(a.timeout) }));

export const approvalsSchema = z
  .array(approvalSchema, e('expected a list of approval rules', 'e.g. approvals: [{ match: { statements: [delete] }, approvers: [dba] }]'))
  .superRefine((rules, ctx) => {
    const seen = new Map<string, number>();
    rules.forEach((r, i) => {
      const name = approvalName(r.name, i);
      const first = seen.get(name);
      if (first === undefined) seen.set(name, i);
      else {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          input: r.name,
          message: problem(`expected a unique name (approvals[${first}] has it too)`, 'rename one of them'),
        });
      }
    });
  });

export type GuardrailsConfig = z.output<typeof guardrailsSchema>;
export type ApprovalsConfig = z.output<typeof approvalsSchema>;

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

function approvalName(name: string | undefined, index: number): string {
  return name ?? `approval-${index + 1}`;
}

/** The parsed `guardrails:` key as the policy {@link evaluate} takes; undefined (key left out) blocks nothing. */
export function toGuardrailPolicy(config: DeepReadonly<GuardrailsConfig> | undefined): GuardrailPolicy {
  const policy: GuardrailPolicy = { block: { classes: [], functions: [], tables: [] }, messages: { ...config?.messages } };
  for (const entry of config?.block ?? []) {
    const add = <T>(list: T[], v: T): void => {
      if (!list.includes(v)) list.push(v);
    };
    if (typeof entry === 'string') add(policy.block.classes, entry);
    else if (entry.class !== undefined) add(policy.block.classes, entry.class);
    else if (entry.function !== undefined) add(policy.block.functions, entry.function);
    else if (entry.table !== undefined) add(policy.block.tables, entry.table);
    if (typeof entry !== 'string' && entry.message !== undefined) policy.messages[ruleName(entry)] = entry.message;
  }
  return policy;
}

/** The parsed `approvals:` key as rules; unnamed rules are called approval-1, approval-2… by position. */
export function toApprovalRules(config: DeepReadonly<ApprovalsConfig> | undefined): ApprovalRule[] {
  return (config ?? []).map((a, i) => ({
    name: approvalName(a.name, i),
    statements: [...a.match.statements] as StatementKind[],
    tables: [...a.match.tables],
    approvers: [...a.approvers],
    min_approvals: a.min_approvals,
    timeout_ms: a.timeout_ms,
  }));
}
