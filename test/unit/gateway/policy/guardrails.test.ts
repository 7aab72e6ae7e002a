import { beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_GUARDRAILS, evaluate, type ApprovalRule, type GuardrailPolicy } from '../../../../gateway/policy/guardrails.js';
import { loadSqlModule, parseSql } from '../../../../gateway/policy/sql/analyze.js';
import { GUARD_CLASSES } from '../../../../gateway/policy/sql/facts.js';
import { compileTablePattern } from '../../../../gateway/policy/table-pattern.js';

beforeAll(async () => {
  await loadSqlModule();
});

const ALL_CLASSES: GuardrailPolicy = {
  block: { classes: [...GUARD_CLASSES], functions: ['pg_terminate_backend', 'dblink', 'pg_catalog.lo_export', 'PG_READ_SERVER_FILES'], tables: ['public.secrets', '*.audit_*', 'pg_catalog.*', 'hr."Salaries"'] },
  messages: {},
};

function decide(sql: string, policy: GuardrailPolicy = ALL_CLASSES, approvals: ApprovalRule[] = []) {
  return evaluate(parseSql(sql), policy, approvals);
}

describe('guard classes block, whatever the disguise', () => {
  it.each<[string, string]>([
    ['DROP TABLE t', 'ddl'],
    ['/* hi */ DROP TABLE t', 'ddl'],
    ['-- x\nDROP TABLE t', 'ddl'],
    ['SELECT 1; DROP TABLE t', 'ddl'],
    ['dRoP tAbLe t', 'ddl'],
    ['CREATE TEMP TABLE x (a int)', 'ddl'],
    ['SELECT * INTO copy_of_t FROM t', 'ddl'],
    ['ALTER TABLE t DROP COLUMN a', 'ddl'],
    ["DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", 'ddl'],
    ['DO $$ BEGIN DROP TABLE t; END $$', 'ddl'],
    ["DO $$ BEGIN EXECUTE 'DR' || 'OP TABLE t'; END $$", 'ddl'],
    ["do $$ begin execute format('drop table %I', 't'); end $$", 'ddl'],
    ['TRUNCATE t', 'truncate'],
    ['SELECT 1; TRUNCATE t', 'truncate'],
    ['DELETE FROM t', 'delete_without_where'],
    ['WITH x AS (DELETE FROM t RETURNING 1) SELECT 1', 'delete_without_where'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'delete_without_where'],
    ['PREPARE p AS DELETE FROM t', 'delete_without_where'],
    ['UPDATE t SET a = 1', 'update_without_where'],
    ['WITH x AS (UPDATE t SET a = 1 RETURNING 1) SELECT 1', 'update_without_where'],
    ["COPY t TO PROGRAM 'x'", 'copy_program'],
    ["COPY t FROM PROGRAM 'curl evil'", 'copy_program'],
    ['GRANT SELECT ON t TO bob', 'grant'],
    ['REVOKE SELECT ON t FROM bob', 'grant'],
    ['GRANT dba TO bob', 'grant'],
    ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob', 'grant'],
  ])('%j → %s', (sql, rule) => {
    const d = decide(sql);
    expect(d).toMatchObject({ action: 'block', rule });
    if (d.action === 'block') expect(d.message).toMatch(new RegExp(`^hoop: .*\\(rule ${rule}\\)$`));
  });

  it('uses clear default messages', () => {
    expect(decide('DROP TABLE t')).toEqual({ action: 'block', rule: 'ddl', message: 'hoop: DDL is blocked on this connection (rule ddl)' });
    expect(decide('DELETE FROM t')).toEqual({ action: 'block', rule: 'delete_without_where', message: 'hoop: DELETE without WHERE is blocked (rule delete_without_where)' });
  });

  it('lets a custom message replace the text, and still names the rule', () => {
    const policy = { ...ALL_CLASSES, messages: { ddl: 'Schema changes go through migrations' } };
    expect(decide('DROP TABLE t', policy)).toMatchObject({ message: 'Schema changes go through migrations (rule ddl)' });
  });

  it('reports the first rule hit across a multi-statement string, classes before functions before tables', () => {
    expect(decide('SELECT * FROM public.secrets; SELECT dblink(1); DROP TABLE t')).toMatchObject({ rule: 'ddl' });
    expect(decide('SELECT * FROM public.secrets; SELECT dblink(1)')).toMatchObject({ rule: 'function:dblink' });
  });

  it('blocks nothing that is not listed', () => {
    const onlyDdl: GuardrailPolicy = { block: { classes: ['ddl'], functions: [], tables: [] }, messages: {} };
    expect(decide('DELETE FROM t', onlyDdl)).toEqual({ action: 'allow' });
    expect(decide('TRUNCATE t', onlyDdl)).toEqual({ action: 'allow' });
  });
});

describe('statements that pass', () => {
  it.each([
    'SELECT 1',
    'SELECT * FROM customers WHERE id = 1',
    'DELETE FROM t WHERE id = 1',
    'UPDATE t SET a = 1 WHERE id = 2',
    'WITH x AS (DELETE FROM t WHERE id = 1 RETURNING 1) SELECT 1',
    'EXPLAIN DELETE FROM t', // planned, not run
    'COPY t TO STDOUT',
    'INSERT INTO t VALUES (1)',
    'BEGIN; SELECT 1; COMMIT',
    "DO $$ BEGIN PERFORM 1; RAISE NOTICE 'hi'; END $$",
    '',
    '-- just a comment',
  ])('%j is allowed', (sql) => {
    expect(decide(sql)).toEqual({ action: 'allow' });
  });
});

describe('statements that cannot be checked are blocked', () => {
  it.each<[string, string, RegExp]>([
    ['SELEC 1', 'unparsable', /^hoop: the statement could not be parsed, so it was not run: syntax error at or near "SELEC" \(at character 1\) \(rule unparsable\)$/],
    ['DROP TABLE', 'unparsable', /syntax error at end of input/],
    ['SELECT 1; DROP', 'unparsable', /syntax error/],
    ['DO $$ DECLARE v text := $q$DROP TABLE t$q$; BEGIN EXECUTE v; END $$', 'unverifiable', /EXECUTE of a string built at run time \(v\) \(rule unverifiable\)$/],
    ['DO LANGUAGE plpython3u $$ import os $$', 'unverifiable', /language plpython3u/],
  ])('%j → %s', (sql, rule, message) => {
    const d = decide(sql, EMPTY_GUARDRAILS);
    expect(d).toMatchObject({ action: 'block', rule });
    if (d.action === 'block') expect(d.message).toMatch(message);
  });

  it('keeps the parser error after a custom message', () => {
    const policy: GuardrailPolicy = { ...EMPTY_GUARDRAILS, messages: { unparsable: 'hoop runs only SQL it can parse' } };
    expect(decide('SELEC 1', policy)).toMatchObject({ message: 'hoop runs only SQL it can parse: syntax error at or near "SELEC" (at character 1) (rule unparsable)' });
  });
});

describe('functions', () => {
  it.each<[string, string]>([
    ['SELECT pg_terminate_backend(123)', 'function:pg_terminate_backend'],
    ['SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_stat_activity', 'function:pg_terminate_backend'],
    ["SELECT * FROM dblink('x','y') AS t(a int)", 'function:dblink'],
    ["SELECT pg_catalog.lo_export(1,'/tmp/x')", 'function:pg_catalog.lo_export'],
    ["SELECT lo_export(1,'/tmp/x')", 'function:pg_catalog.lo_export'],
    ["SELECT upper(PG_READ_SERVER_FILES('x'))", 'function:PG_READ_SERVER_FILES'],
    ["SELECT * FROM t WHERE a = (SELECT upper(pg_read_server_files('x')))", 'function:PG_READ_SERVER_FILES'],
    ['DO $$ BEGIN PERFORM pg_terminate_backend(1); END $$', 'function:pg_terminate_backend'],
    ["DO $$ BEGIN EXECUTE 'SELECT dblink(1)'; END $$", 'function:dblink'],
    ['CALL dblink(1)', 'function:dblink'],
  ])('%s → %s', (sql, rule) => {
    const d = decide(sql);
    expect(d).toMatchObject({ action: 'block', rule });
  });

  it.each<[string, string | null]>([
    ["SELECT dblink_exec('x', 'DROP TABLE t')", 'hoop: calling dblink_exec() is blocked on this connection (rule function:dblink*)'],
    ["SELECT public.dblink_connect('x')", 'hoop: calling dblink_connect() is blocked on this connection (rule function:dblink*)'],
    ["SELECT pg_read_file('/etc/passwd')", 'hoop: calling pg_read_file() is blocked on this connection (rule function:pg_catalog.pg_read_*)'],
    ["SELECT my_dblink('x')", null],
  ])('globs in function names: %s', (sql, message) => {
    const policy: GuardrailPolicy = { block: { classes: [], functions: ['dblink*', 'pg_catalog.pg_read_*'], tables: [] }, messages: {} };
    const d = decide(sql, policy);
    if (message === null) expect(d).toEqual({ action: 'allow' });
    else expect(d).toMatchObject({ action: 'block', message });
  });

  it('names the function in the default message', () => {
    expect(decide("SELECT dblink('x','y')")).toMatchObject({ message: 'hoop: calling dblink() is blocked on this connection (rule function:dblink)' });
  });
});

describe('tables', () => {
  it.each<[string, string | null]>([
    ['SELECT * FROM public.secrets', 'table:public.secrets'],
    ['SELECT * FROM secrets', 'table:public.secrets'], // unqualified: the default schema
    ['SELECT * FROM "secrets"', 'table:public.secrets'],
    ['SELECT * FROM PUBLIC.SECRETS', 'table:public.secrets'],
    ['SELECT * FROM other.secrets', null],
    ['SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM secrets)', 'table:public.secrets'],
    ['INSERT INTO log SELECT * FROM secrets', 'table:public.secrets'],
    ['SELECT * FROM billing.audit_log', 'table:*.audit_*'],
    ['SELECT * FROM audit_trail', 'table:*.audit_*'],
    ['SELECT * FROM pg_catalog.pg_authid', 'table:pg_catalog.*'],
    ['SELECT * FROM pg_authid', 'table:pg_catalog.*'], // pg_catalog is searched first
    ['SELECT * FROM hr."Salaries"', 'table:hr."Salaries"'],
    ['SELECT * FROM hr.salaries', 'table:hr."Salaries"'], // case-insensitive: over-blocking is the safe side
    ['WITH secrets AS (SELECT 1) SELECT * FROM secrets', null], // a CTE, not the table
    ["DO $$ BEGIN EXECUTE 'SELECT * FROM public.secrets'; END $$", 'table:public.secrets'],
    ['SELECT * FROM customers', null],
  ])('%s → %s', (sql, rule) => {
    const d = decide(sql);
    if (rule === null) expect(d).toEqual({ action: 'allow' });
    else expect(d).toMatchObject({ action: 'block', rule });
  });

  it('names the table in the default message', () => {
    expect(decide('SELECT * FROM secrets')).toMatchObject({ message: 'hoop: access to public.secrets is blocked on this connection (rule table:public.secrets)' });
  });

  it.each<[string, { schema: string | null; name: string }, boolean]>([
    ['public.secrets', { schema: null, name: 'secrets' }, true],
    ['secrets', { schema: 'any', name: 'secrets' }, true],
    ['secrets', { schema: null, name: 'secrets2' }, false],
    ['*.audit_*', { schema: 'x', name: 'audit_' }, true],
    ['*.audit_*', { schema: 'x', name: 'my_audit_x' }, false],
    ['a.b', { schema: 'aXb', name: 'b' }, false], // the dot is literal
    ['pg_catalog.*', { schema: null, name: 'customers' }, false],
    ['*', { schema: 'x', name: 'y' }, true],
  ])('pattern %s vs %j → %s', (pattern, ref, expected) => {
    expect(compileTablePattern(pattern)(ref)).toBe(expected);
  });
});

describe('approvals', () => {
  const payments: ApprovalRule = { name: 'payments-writes', statements: ['delete', 'update'], tables: ['public.payments'], approvers: ['dba'], min_approvals: 1, timeout_ms: 600_000 };
  const anyDdl: ApprovalRule = { name: 'ddl', statements: ['ddl'], tables: [], approvers: ['dba', 'leads'], min_approvals: 2, timeout_ms: 60_000 };
  const rules = [payments, anyDdl];

  it.each<[string, string | null]>([
    ['DELETE FROM payments WHERE id = 1', 'payments-writes'],
    ['UPDATE public.payments SET a = 1 WHERE id = 1', 'payments-writes'],
    ['WITH x AS (DELETE FROM payments WHERE id = 1 RETURNING 1) SELECT 1', 'payments-writes'],
    ['DELETE FROM orders WHERE id IN (SELECT order_id FROM payments)', 'payments-writes'], // reads count too
    ['SELECT 1; DELETE FROM payments WHERE id = 1', 'payments-writes'],
    ['DELETE FROM orders WHERE id = 1', null],
    ['SELECT * FROM payments', null],
    ['INSERT INTO payments VALUES (1)', null],
    ['CREATE INDEX ON orders (id)', 'ddl'],
    ['EXPLAIN ANALYZE UPDATE payments SET a = 1 WHERE id = 1', 'payments-writes'],
  ])('%s → %s', (sql, name) => {
    const d = evaluate(parseSql(sql), EMPTY_GUARDRAILS, rules);
    if (name === null) expect(d).toEqual({ action: 'allow' });
    else expect(d).toMatchObject({ action: 'approve', rule: { name } });
  });

  it('says who must approve', () => {
    expect(evaluate(parseSql('DROP INDEX i'), EMPTY_GUARDRAILS, rules)).toMatchObject({
      message: 'hoop: this statement needs 2 approvals from dba or leads (rule ddl)',
    });
  });

  it('blocks before asking for approval', () => {
    const policy: GuardrailPolicy = { block: { classes: ['delete_without_where'], functions: [], tables: [] }, messages: {} };
    expect(evaluate(parseSql('DELETE FROM payments'), policy, rules)).toMatchObject({ action: 'block', rule: 'delete_without_where' });
  });
});
