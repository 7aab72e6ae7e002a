import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlModule, parseSql } from '../../../../gateway/policy/sql/analyze.js';
import type { StatementFacts } from '../../../../gateway/policy/sql/facts.js';
import { constantString, format } from '../../../../gateway/policy/sql/plpgsql.js';

beforeAll(async () => {
  await loadSqlModule();
});

function all(sql: string): StatementFacts[] {
  const r = parseSql(sql);
  if (!r.ok) throw new Error(`did not parse: ${r.error}`);
  return r.statements;
}

function one(sql: string): StatementFacts {
  const s = all(sql);
  expect(s).toHaveLength(1);
  return s[0]!;
}

const t = (name: string, schema: string | null = null) => ({ schema, name });

describe('statement splitting', () => {
  it('slices each statement\'s own text, by UTF-8 byte offsets', () => {
    const s = all("SELECT 'héllo' AS x;  /* c */ DELETE FROM t WHERE id = 1 ;\nSELECT 'ü'");
    expect(s.map((f) => f.text)).toEqual(["SELECT 'héllo' AS x", 'DELETE FROM t WHERE id = 1', "SELECT 'ü'"]);
    expect(s.map((f) => f.kind)).toEqual(['select', 'delete', 'select']);
  });

  it.each([
    ['', 0],
    ['  \n ', 0],
    ['-- only a comment', 0],
    [';;', 0],
  ])('%j has %i statements', (sql, n) => {
    expect(all(sql)).toHaveLength(n);
  });

  it.each([
    ['SELEC 1', /syntax error at or near "SELEC" \(at character 1\)/],
    ['DROP TABLE', /syntax error at end of input/],
    ['SELECT 1; DROP', /syntax error/],
    ['SELECT 1\0; DROP TABLE t', /NUL/],
  ])('%j does not parse', (sql, error) => {
    const r = parseSql(sql);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});

describe('kinds, commands and guard classes', () => {
  it.each<[string, string, string, string[], string[]]>([
    ['SELECT 1', 'select', 'SELECT', ['select'], []],
    ['VALUES (1)', 'select', 'VALUES', ['select'], []],
    ['INSERT INTO t VALUES (1)', 'insert', 'INSERT', ['insert'], []],
    ['INSERT INTO t SELECT * FROM u', 'insert', 'INSERT', ['insert', 'select'], []],
    ['UPDATE t SET a = 1', 'update', 'UPDATE', ['update'], ['update_without_where']],
    ['UPDATE t SET a = 1 WHERE id = 2', 'update', 'UPDATE', ['update'], []],
    ['DELETE FROM t', 'delete', 'DELETE', ['delete'], ['delete_without_where']],
    ['DELETE FROM t WHERE true', 'delete', 'DELETE', ['delete'], []], // documented limit: only a missing WHERE counts
    ['MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE', 'merge', 'MERGE', ['merge', 'delete'], []],
    ['TRUNCATE a, b', 'truncate', 'TRUNCATE', ['truncate'], ['truncate']],
    ['DROP TABLE t', 'ddl', 'DROP TABLE', ['ddl'], ['ddl']],
    ['dRoP tAbLe t', 'ddl', 'DROP TABLE', ['ddl'], ['ddl']],
    ['DROP MATERIALIZED VIEW v', 'ddl', 'DROP MATERIALIZED VIEW', ['ddl'], ['ddl']],
    ['CREATE TEMP TABLE x (a int)', 'ddl', 'CREATE TABLE', ['ddl'], ['ddl']],
    ['CREATE INDEX ON t (a)', 'ddl', 'CREATE INDEX', ['ddl'], ['ddl']],
    ['ALTER TABLE t ADD COLUMN b int', 'ddl', 'ALTER TABLE', ['ddl'], ['ddl']],
    ['ALTER TABLE t RENAME TO u', 'ddl', 'ALTER TABLE', ['ddl'], ['ddl']],
    ["COMMENT ON TABLE t IS 'x'", 'ddl', 'COMMENT', ['ddl'], ['ddl']],
    ['CREATE TABLE x AS SELECT * FROM t', 'ddl', 'CREATE TABLE AS', ['ddl', 'select'], ['ddl']],
    ['SELECT * INTO x FROM t', 'ddl', 'SELECT INTO', ['ddl'], ['ddl']],
    ['CREATE ROLE r', 'ddl', 'CREATE ROLE', ['ddl'], ['ddl']],
    ["ALTER SYSTEM SET work_mem = '1GB'", 'ddl', 'ALTER SYSTEM', ['ddl'], ['ddl']],
    ['CREATE EXTENSION dblink', 'ddl', 'CREATE EXTENSION', ['ddl'], ['ddl']],
    ['GRANT SELECT ON t TO bob', 'grant', 'GRANT', ['grant'], ['grant']],
    ['REVOKE SELECT ON t FROM bob', 'grant', 'REVOKE', ['grant'], ['grant']],
    ['GRANT dba TO bob', 'grant', 'GRANT', ['grant'], ['grant']],
    ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO x', 'grant', 'ALTER DEFAULT PRIVILEGES', ['grant'], ['grant']],
    ["COPY t TO PROGRAM 'gzip > /tmp/x'", 'copy', 'COPY', ['copy'], ['copy_program']],
    ["COPY t FROM PROGRAM 'curl x'", 'copy', 'COPY', ['copy'], ['copy_program']],
    ['COPY t TO STDOUT', 'copy', 'COPY', ['copy'], []],
    ['BEGIN', 'transaction', 'BEGIN', ['transaction'], []],
    ['COMMIT', 'transaction', 'COMMIT', ['transaction'], []],
    ["SET search_path = x", 'set', 'SET', ['set'], []],
    ['RESET ALL', 'set', 'RESET', ['set'], []],
    ['SHOW work_mem', 'show', 'SHOW', ['show'], []],
    ['CALL p(1)', 'call', 'CALL', ['call'], []],
    ['EXECUTE p(1)', 'execute', 'EXECUTE', ['execute'], []],
    ['VACUUM t', 'other', 'VACUUM', ['other'], []],
    ["LOAD 'x'", 'other', 'LOAD', ['other'], []],
    ['LOCK TABLE t', 'other', 'LOCK TABLE', ['other'], []],
  ])('%s → %s %s %j %j', (sql, kind, command, kinds, classes) => {
    const f = one(sql);
    expect(f.kind).toBe(kind);
    expect(f.command).toBe(command);
    expect(f.kinds).toEqual(kinds);
    expect(f.classes).toEqual(classes);
  });

  it.each<[string, string[], string[]]>([
    ['WITH x AS (DELETE FROM t RETURNING 1) SELECT 1', ['select', 'delete'], ['delete_without_where']],
    ['WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x', ['select', 'update'], ['update_without_where']],
    ['SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s', ['select', 'delete'], ['delete_without_where']],
    ['EXPLAIN ANALYZE DELETE FROM t', ['explain', 'delete'], ['delete_without_where']],
    ['EXPLAIN (ANALYZE, VERBOSE) DELETE FROM t', ['explain', 'delete'], ['delete_without_where']],
    ['EXPLAIN (ANALYZE on) DELETE FROM t', ['explain', 'delete'], ['delete_without_where']],
    ['EXPLAIN (ANALYZE maybe) DELETE FROM t', ['explain', 'delete'], ['delete_without_where']], // unclear counts as running
    ['EXPLAIN DELETE FROM t', ['explain'], []], // planned, not run
    ['EXPLAIN (ANALYZE false) DELETE FROM t', ['explain'], []],
    ['PREPARE p AS DELETE FROM t', ['prepare', 'delete'], ['delete_without_where']],
    ['COPY (DELETE FROM t RETURNING *) TO STDOUT', ['copy', 'delete'], ['delete_without_where']],
    ['DECLARE c CURSOR FOR SELECT * FROM t', ['other', 'select'], []],
    ['CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u', ['ddl', 'delete'], ['ddl', 'delete_without_where']],
  ])('%s', (sql, kinds, classes) => {
    const f = one(sql);
    expect(f.kinds).toEqual(kinds);
    expect(f.classes).toEqual(classes);
  });
});

describe('relations', () => {
  it.each<[string, object[], object[]]>([
    ['SELECT * FROM customers', [t('customers')], []],
    ['SELECT * FROM public.customers c JOIN "Orders" o ON o.cid = c.id', [t('customers', 'public'), t('Orders')], []],
    ['SELECT * FROM a WHERE id IN (SELECT id FROM b) AND EXISTS (SELECT 1 FROM c.d)', [t('a'), t('b'), t('d', 'c')], []],
    ['INSERT INTO t (a) SELECT a FROM u', [t('t'), t('u')], [t('t')]],
    ['UPDATE t SET a = u.a FROM u WHERE t.id = u.id', [t('t'), t('u')], [t('t')]],
    ['DELETE FROM t USING u WHERE t.id = u.id', [t('t'), t('u')], [t('t')]],
    ['TRUNCATE a, "B".c', [t('a'), t('c', 'B')], [t('a'), t('c', 'B')]],
    ['COPY t FROM STDIN', [t('t')], [t('t')]],
    ['COPY t TO STDOUT', [t('t')], []],
    ['DROP TABLE s.x, y', [t('x', 's'), t('y')], [t('x', 's'), t('y')]],
    ['CREATE TABLE n (id int REFERENCES p (id))', [t('n'), t('p')], [t('n')]],
    ['ALTER TABLE t ADD COLUMN b int', [t('t')], [t('t')]],
    ['CREATE INDEX i ON t (a)', [t('t')], [t('t')]],
    ['CREATE VIEW v AS SELECT * FROM t', [t('v'), t('t')], [t('v')]],
    ['SELECT * INTO x FROM t', [t('x'), t('t')], [t('x')]],
    ['GRANT SELECT ON secrets TO bob', [t('secrets')], []],
    ['EXPLAIN DELETE FROM t', [t('t')], []],
  ])('%s', (sql, tables, written) => {
    const f = one(sql);
    expect(f.tables).toEqual(tables);
    expect(f.writtenTables).toEqual(written);
  });

  it.each<[string, object[]]>([
    ['WITH x AS (SELECT 1) SELECT * FROM x', []],
    ['WITH x AS (SELECT * FROM t) SELECT * FROM x, public.x', [t('t'), t('x', 'public')]],
    // A non-recursive CTE's body cannot see its own name: `secrets` there is the table.
    ['WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets', [t('secrets')]],
    ['WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT * FROM r) SELECT * FROM r', []],
    // The CTE is visible only inside the subquery that defines it.
    ['SELECT * FROM secrets, (WITH secrets AS (SELECT 1) SELECT * FROM secrets) s', [t('secrets')]],
    ['WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b', [t('b')]],
  ])('CTE names are not tables: %s', (sql, tables) => {
    expect(one(sql).tables).toEqual(tables);
  });
});

describe('functions', () => {
  it.each<[string, string[]]>([
    ['SELECT pg_terminate_backend(123)', ['pg_terminate_backend']],
    ["SELECT * FROM dblink('x', 'y') AS t(a int)", ['dblink']],
    ["SELECT pg_catalog.lo_export(1, '/tmp/x')", ['pg_catalog.lo_export', 'lo_export']],
    ["SELECT 1 WHERE upper(PG_READ_SERVER_FILES('x')) = 'a'", ['upper', 'pg_read_server_files']],
    ["SELECT (SELECT \"Upper\"(x) FROM t)", ['upper']],
    ['SELECT count(*) OVER (PARTITION BY lower(a)) FROM t', ['count', 'lower']],
    ['CALL myschema.proc(now())', ['myschema.proc', 'proc', 'now']],
    ['CREATE TABLE x (a timestamptz DEFAULT clock_timestamp())', ['clock_timestamp']],
    ['SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY[1]))', ['generate_series', 'unnest']],
    ['INSERT INTO t VALUES (gen_random_uuid()) ON CONFLICT (id) DO UPDATE SET b = md5(excluded.b)', ['gen_random_uuid', 'md5']],
    ['SELECT substring(a FROM 1 FOR 2) FROM t', ['pg_catalog.substring', 'substring']],
  ])('%s', (sql, functions) => {
    expect(one(sql).functions).toEqual(functions);
  });
});

describe('DO blocks', () => {
  it.each<[string, string[], string[], string[]]>([
    ["DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", ['do', 'ddl'], ['ddl'], []],
    ['DO $$ BEGIN DROP TABLE t; END $$', ['do', 'ddl'], ['ddl'], []],
    ["DO $$ BEGIN EXECUTE 'DROP ' || 'TABLE ' || 't'; END $$", ['do', 'ddl'], ['ddl'], []],
    ["DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'T'); END $$", ['do', 'ddl'], ['ddl'], ['format']],
    ["DO $$ BEGIN EXECUTE concat('TRUNC', 'ATE t'); END $$", ['do', 'truncate'], ['truncate'], ['concat']],
    ["DO $x$ BEGIN EXECUTE 'DO $y$ BEGIN EXECUTE ''DELETE FROM t''; END $y$'; END $x$", ['do', 'delete'], ['delete_without_where'], []],
    ['DO $$ BEGIN PERFORM pg_terminate_backend(1); END $$', ['do', 'select'], [], ['pg_terminate_backend']],
    ['DO $$ DECLARE v int := pg_backend_pid(); BEGIN v := abs(v); END $$', ['do'], [], ['pg_backend_pid', 'abs']],
    ['DO $$ DECLARE a int[]; BEGIN a[f(1)] := g(2); END $$', ['do'], [], ['f', 'g']],
    ['DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM t LOOP UPDATE u SET a = 1; END LOOP; COMMIT; END $$', ['do', 'select', 'update', 'transaction'], ['update_without_where'], []],
    ["DO $$ BEGIN IF EXISTS (SELECT 1 FROM t) THEN RAISE NOTICE '%', lower('x'); END IF; END $$", ['do', 'select'], [], ['lower']],
    ["DO $$ DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT * FROM secrets'; END $$", ['do', 'select'], [], []],
    ["DO $$ BEGIN COPY t TO PROGRAM 'x'; END $$", ['do', 'copy'], ['copy_program'], []],
    ["DO $$ DECLARE c CURSOR FOR SELECT 1; BEGIN NULL; EXCEPTION WHEN others THEN EXECUTE 'DROP TABLE t'; END $$", ['do', 'select', 'ddl'], ['ddl'], []],
    ["DO $$ BEGIN RAISE NOTICE 'it''s a \\ backslash'; DELETE FROM t; END $$", ['do', 'delete'], ['delete_without_where'], []],
  ])('%s', (sql, kinds, classes, functions) => {
    const f = one(sql);
    expect([...f.kinds].sort()).toEqual([...kinds].sort());
    expect(f.classes).toEqual(classes);
    expect(f.functions).toEqual(functions);
    expect(f.unverifiable).toEqual([]);
  });

  it('sees the tables that the body touches', () => {
    expect(one("DO $$ BEGIN EXECUTE 'SELECT * FROM public.secrets'; INSERT INTO log VALUES (1); END $$").tables)
      .toEqual([t('secrets', 'public'), t('log')]);
  });

  // Masking refuses a DO block over a table with masked columns: values leave it through RAISE, cursors, tables.
  it.each<[string, object[]]>([
    ["DO $$ DECLARE c refcursor := 'c'; BEGIN OPEN c FOR SELECT email FROM customers; END $$", [t('customers')]],
    ['DO $$ DECLARE c CURSOR FOR SELECT email FROM customers; BEGIN OPEN c; END $$', [t('customers')]],
    ["DO $$ BEGIN RAISE NOTICE '%', (SELECT email FROM customers LIMIT 1); END $$", [t('customers')]],
    ["DO $$ DECLARE v text; BEGIN SELECT email INTO v FROM public.customers; RAISE NOTICE '%', v; END $$", [t('customers', 'public')]],
    ["DO $$ DECLARE v text := (SELECT email FROM customers LIMIT 1); BEGIN NULL; END $$", [t('customers')]],
    ['DO $$ BEGIN INSERT INTO t2 SELECT email FROM customers; END $$', [t('t2'), t('customers')]],
    ['DO $$ BEGIN CREATE TEMP TABLE t2 AS SELECT email FROM customers; END $$', [t('t2'), t('customers')]],
    ["DO $$ BEGIN EXECUTE 'SELECT email FROM ' || 'customers'; END $$", [t('customers')]],
    ["DO $x$ BEGIN EXECUTE 'DO $y$ BEGIN PERFORM email FROM customers; END $y$'; END $x$", [t('customers')]],
    ['DO $$ BEGIN WITH customers AS (SELECT 1) SELECT 1 FROM customers; END $$', []],
    ["DO $$ BEGIN RAISE NOTICE 'hello'; END $$", []],
  ])('lists the tables read or written in the body: %s', (sql, tables) => {
    expect(one(sql).doTables).toEqual(tables);
  });

  it('lists no DO tables for statements that are not DO blocks', () => {
    expect(one('SELECT email FROM customers').doTables).toEqual([]);
    expect(one('INSERT INTO t2 SELECT email FROM customers').doTables).toEqual([]);
  });

  it.each<[string, RegExp]>([
    ['DO $$ DECLARE v text := $q$DROP TABLE t$q$; BEGIN EXECUTE v; END $$', /EXECUTE of a string built at run time \(v\)/],
    ["DO $$ BEGIN EXECUTE 'DROP TABLE ' || current_user; END $$", /built at run time/],
    ["DO $$ DECLARE n text := 't'; BEGIN EXECUTE format('DROP TABLE %I', n); END $$", /built at run time/],
    ["DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE (SELECT q FROM queries) LOOP END LOOP; END $$", /built at run time/],
    ['DO LANGUAGE plperl $$ system("rm -rf /") $$', /language plperl/],
    ['DO $$ BEGIN this is not plpgsql; END $$', /does not parse/],
    ["DO $$ BEGIN EXECUTE 'SELEC 1'; END $$", /EXECUTE: the SQL does not parse/],
  ])('unverifiable: %s', (sql, reason) => {
    const f = one(sql);
    expect(f.unverifiable).toHaveLength(1);
    expect(f.unverifiable[0]).toMatch(reason);
  });

  it('gives up on DO blocks nested too deeply through EXECUTE', () => {
    let sql = "DELETE FROM t";
    for (let i = 0; i < 6; i++) sql = `DO $d${i}$ BEGIN EXECUTE ${quote(sql)}; END $d${i}$`;
    expect(one(sql).unverifiable.join()).toMatch(/nested too deeply/);
  });

  it('evaluates constant strings like PostgreSQL', () => {
    expect(constantString("'a' || 'b'")).toBe('ab');
    expect(constantString("'x'::text || 1")).toBe('x1');
    expect(constantString("format('%s %I %L %%', 'a', 'Tab', 'it''s')")).toBe(`a "Tab" 'it''s' %`);
    expect(constantString("format('%2$s %1$s', 'a', 'b')")).toBe('b a');
    expect(constantString("quote_literal('a\\b')")).toBe("E'a\\\\b'");
    expect(constantString('v')).toBeUndefined();
    expect(constantString("'a' || v")).toBeUndefined();
    expect(constantString("myschema.format('x')")).toBeUndefined();
    expect(format('%10s', ['a'])).toBeUndefined(); // width: given up, so unverifiable
    expect(format('%s %s', ['a'])).toBeUndefined();
  });
});

describe('side channels: pg_notify and set_config', () => {
  const u = (column: string, table: string | null = null) => ({ table, column });
  it.each<[string, object[]]>([
    ["SELECT pg_notify('ch', email) FROM customers", [{ function: 'pg_notify', uses: [u('email')] }]],
    ["SELECT pg_catalog.PG_NOTIFY('ch', upper(c.email)) FROM customers c", [{ function: 'pg_notify', uses: [u('email', 'c')] }]],
    ["SELECT set_config('my.x', email, false) FROM customers LIMIT 1", [{ function: 'set_config', uses: [u('email')] }]],
    ["SELECT 1 FROM customers c WHERE pg_notify('ch', c::text) IS NULL", [{ function: 'pg_notify', uses: [u('c'), u('*', 'c')] }]],
    ["SELECT pg_notify('ch', (SELECT email FROM customers LIMIT 1))", [{ function: 'pg_notify', uses: [u('email')] }]],
    ["SELECT x FROM customers, LATERAL set_config('my.x', phone, true) AS s(x)", [{ function: 'set_config', uses: [u('phone')] }]],
    ["SELECT pg_notify('ch', 'hello')", [{ function: 'pg_notify', uses: [] }]],
    ['SELECT upper(email) FROM customers', []],
    ["DO $$ BEGIN PERFORM pg_notify('ch', 'x'); END $$", []], // a DO body is checked by the tables it reads
  ])('%s', (sql, calls) => {
    expect(one(sql).sideChannels).toEqual(calls);
  });
});

describe('prepared statements a statement removes', () => {
  it('names the one DEALLOCATE removes, null for all of them, and nothing for other statements', () => {
    expect(one('DEALLOCATE s').releases).toBe('s');
    expect(one('DEALLOCATE PREPARE "S x"').releases).toBe('S x');
    expect(one('DEALLOCATE ALL').releases).toBeNull();
    expect(one('DISCARD ALL').releases).toBeNull();
    expect(one('DISCARD PLANS').releases).toBeUndefined();
    expect(one('PREPARE s AS SELECT 1').releases).toBeUndefined();
    expect(one('SELECT 1').releases).toBeUndefined();
  });
});

describe('settings that change how statements are read', () => {
  it.each([
    'SET standard_conforming_strings = off',
    "SET LOCAL standard_conforming_strings TO 'off'",
    'SET "Standard_Conforming_Strings" = off',
    "SET NAMES 'SJIS'",
    "SET client_encoding = 'GBK'",
    'ALTER ROLE me SET standard_conforming_strings = off',
    'ALTER SYSTEM SET client_encoding = latin1',
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    "SELECT pg_catalog.set_config('client_encoding', 'BIG5', false)",
    'SELECT set_config(name, setting, false) FROM my_settings',
    'DO $$ BEGIN SET standard_conforming_strings = off; END $$',
  ])('%s is unverifiable', (sql) => {
    expect(one(sql).unverifiable.join()).toMatch(/standard_conforming_strings = on|computed at run time/);
  });

  it.each([
    'SET standard_conforming_strings = on',
    "SET client_encoding = 'UTF8'",
    'RESET standard_conforming_strings',
    'SET client_encoding TO DEFAULT',
    "SELECT set_config('search_path', 'x', false)",
    'SET search_path = x',
  ])('%s is fine', (sql) => {
    expect(one(sql).unverifiable).toEqual([]);
  });
});

function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
