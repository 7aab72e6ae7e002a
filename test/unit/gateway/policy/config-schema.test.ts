import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { formatPath } from '../../../../gateway/config/schema.js';
import { approvalsSchema, guardrailsSchema, toApprovalRules, toGuardrailPolicy } from '../../../../gateway/policy/config-schema.js';

function guardrails(yaml: string) {
  return guardrailsSchema.parse(parseYaml(yaml));
}

/** Each problem as "<path>: <message>", the way the config loader lays them out. */
function problems(schema: typeof guardrailsSchema | typeof approvalsSchema, yaml: string): string[] {
  const r = schema.safeParse(parseYaml(yaml));
  if (r.success) throw new Error('expected the value to be rejected');
  return r.error.issues.map((i) => (i.code === 'unrecognized_keys'
    ? `${formatPath([...i.path, ...i.keys])}: unknown key`
    : `${formatPath(i.path)}: ${i.message}`));
}

describe('guardrails', () => {
  it('turns the block list into a policy', () => {
    const g = guardrails(`
block:
  - ddl
  - truncate
  - delete_without_where
  - { function: dblink }
  - { function: pg_catalog.lo_export, message: No server-side file export }
  - { table: public.secrets }
  - { table: '*.audit_*' }
  - { class: copy_program, message: COPY PROGRAM runs shell commands on the server }
  - ddl
messages:
  ddl: Schema changes go through migrations
  unparsable: hoop runs only SQL it can parse
`);
    expect(toGuardrailPolicy(g)).toEqual({
      block: {
        classes: ['ddl', 'truncate', 'delete_without_where', 'copy_program'],
        functions: ['dblink', 'pg_catalog.lo_export'],
        tables: ['public.secrets', '*.audit_*'],
      },
      messages: {
        ddl: 'Schema changes go through migrations',
        unparsable: 'hoop runs only SQL it can parse',
        'function:pg_catalog.lo_export': 'No server-side file export',
        copy_program: 'COPY PROGRAM runs shell commands on the server',
      },
    });
  });

  it('accepts the architecture example and an empty mapping', () => {
    expect(toGuardrailPolicy(guardrails('{ block: [ddl, truncate, delete_without_where, copy_program] }')).block.classes)
      .toEqual(['ddl', 'truncate', 'delete_without_where', 'copy_program']);
    expect(toGuardrailPolicy(guardrails('{}'))).toEqual({ block: { classes: [], functions: [], tables: [] }, messages: {} });
    expect(toGuardrailPolicy(undefined)).toEqual({ block: { classes: [], functions: [], tables: [] }, messages: {} });
  });

  it('reports a misspelt key with the rule it leaves missing', () => {
    expect(problems(guardrailsSchema, 'block: [{ fn: dblink }]')).toEqual([
      'block[0].fn: unknown key',
      'block[0]: expected exactly one of class, function or table — write one rule per entry, e.g. { function: dblink }',
    ]);
  });

  it.each<[string, RegExp]>([
    ['block: [drop]', /^block\[0\]: expected a guard class \(ddl, truncate, delete_without_where, update_without_where, copy_program, grant\) — use one of those/],
    ['block: [ddl, { class: nuke }]', /^block\[1\]\.class: expected a guard class \(ddl, .*grant\) — /],
    ['block: [{ function: dblink, table: x }]', /^block\[0\]: expected exactly one of class, function or table — write one rule per entry/],
    ['block: [{ message: hi }]', /^block\[0\]: expected exactly one of class, function or table/],
    ['block: [{ function: "" }]', /^block\[0\]\.function: expected a non-empty string — name the function/],
    ['block: [3]', /^block\[0\]: expected a guard class or a mapping — e\.g\. ddl, \{ function: dblink \}/],
    ['block: ddl', /^block: expected a list of rules — e\.g\. block: \[ddl, truncate/],
    ['{ block: [ddl], messages: { truncate: x } }', /^messages\.truncate: expected the name of a rule in guardrails\.block \(ddl, unparsable, unverifiable\) — /],
    ['{ block: [ddl], messages: { ddl: "" } }', /^messages\.ddl: expected a non-empty string/],
    ['{ blocks: [ddl] }', /^blocks: unknown key/],
    ['ddl', /^: expected a mapping — e\.g\. guardrails: \{ block: \[ddl/],
  ])('%s', (yaml, message) => {
    expect(problems(guardrailsSchema, yaml)).toEqual([expect.stringMatching(message)]);
  });
});

describe('approvals', () => {
  it('fills in defaults and names', () => {
    const a = approvalsSchema.parse(parseYaml(`
- match: { statements: [delete, update], tables: [public.payments] }
  approvers: [dba]
- name: ddl-review
  match: { statements: [ddl] }
  approvers: [dba, leads]
  min_approvals: 2
  timeout: 1h30m
`));
    expect(a[0]).toMatchObject({ min_approvals: 1, timeout: '10m', timeout_ms: 600_000 });
    expect(toApprovalRules(a)).toEqual([
      { name: 'approval-1', statements: ['delete', 'update'], tables: ['public.payments'], approvers: ['dba'], min_approvals: 1, timeout_ms: 600_000 },
      { name: 'ddl-review', statements: ['ddl'], tables: [], approvers: ['dba', 'leads'], min_approvals: 2, timeout_ms: 5_400_000 },
    ]);
    expect(toApprovalRules(undefined)).toEqual([]);
  });

  it.each<[string, RegExp]>([
    ['[{ match: { statements: [remove] }, approvers: [dba] }]', /^\[0\]\.match\.statements\[0\]: expected a statement kind \(select, insert, .*other\) — use one of those kinds/],
    ['[{ match: { statements: [] }, approvers: [dba] }]', /^\[0\]\.match\.statements: expected at least one statement kind/],
    ['[{ match: { statements: [delete] }, approvers: [] }]', /^\[0\]\.approvers: expected at least one group — e\.g\. approvers: \[dba\]/],
    ['[{ match: { statements: [delete] } }]', /^\[0\]\.approvers: expected a list of groups/],
    ['[{ match: { statements: [delete] }, approvers: [dba], min_approvals: 0 }]', /^\[0\]\.min_approvals: expected a whole number of at least 1/],
    ['[{ match: { statements: [delete] }, approvers: [dba], min_approvals: 1.5 }]', /^\[0\]\.min_approvals: expected a whole number/],
    ['[{ match: { statements: [delete] }, approvers: [dba], timeout: soon }]', /^\[0\]\.timeout: expected a duration such as 30s, 10m or 1h — /],
    ['[{ match: { statements: [delete], table: [x] }, approvers: [dba] }]', /^\[0\]\.match\.table: unknown key/],
    ['[{ name: a, match: { statements: [delete] }, approvers: [dba] }, { name: a, match: { statements: [update] }, approvers: [dba] }]', /^\[1\]\.name: expected a unique name \(approvals\[0\] has it too\) — rename one of them/],
    ['{ match: { statements: [delete] } }', /^: expected a list of approval rules/],
  ])('%s', (yaml, message) => {
    expect(problems(approvalsSchema, yaml)).toEqual([expect.stringMatching(message)]);
  });
});
