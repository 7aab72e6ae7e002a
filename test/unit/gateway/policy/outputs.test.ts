import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlModule, parseSql } from '../../../../gateway/policy/sql/analyze.js';
import type { ColumnUse, OutputColumn, StatementFacts } from '../../../../gateway/policy/sql/facts.js';

beforeAll(async () => {
  await loadSqlModule();
});

function one(sql: string): StatementFacts {
  const r = parseSql(sql);
  if (!r.ok) throw new Error(`did not parse: ${r.error}`);
  expect(r.statements).toHaveLength(1);
  return r.statements[0]!;
}

const col = (column: string, table: string | null = null): OutputColumn['source'] => ({ kind: 'column', table, column });
const star = (table: string | null = null): OutputColumn['source'] => ({ kind: 'star', table });
const expr = (uses: ColumnUse[], wholeRow: string[] = []): Extract<OutputColumn['source'], { kind: 'expression' }> => ({ kind: 'expression', uses, wholeRow });
const use = (column: string, table: string | null = null): ColumnUse => ({ table, column });

describe('result columns', () => {
  it.each<[string, (string | null)[], OutputColumn['source'][], ColumnUse[], boolean]>([
    ['SELECT email FROM customers', ['email'], [col('email')], [], false],
    ['SELECT upper(email) FROM customers', ['upper'], [expr([use('email')])], [], false],
    ["SELECT email || '' AS e FROM customers c", ['e'], [expr([use('email')])], [], false],
    ['SELECT substr(card_number,1,16) FROM cards', ['substr'], [expr([use('card_number')])], [], false],
    ["SELECT encode(convert_to(email,'UTF8'),'base64') FROM customers", ['encode'], [expr([use('email')])], [], false],
    // A cast is an expression: the server reports no column origin for it.
    ['SELECT email::varchar FROM customers', ['email'], [expr([use('email')])], [], false],
    ['SELECT (SELECT email FROM customers LIMIT 1)', ['email'], [expr([use('email')])], [use('email')], false],
    ['SELECT x FROM (SELECT email AS x FROM customers) s', ['x'], [col('x')], [use('email')], false],
    ["SELECT email FROM customers UNION SELECT 'a'", ['email'], [col('email')], [use('email')], true],
    ["SELECT 'a' UNION ALL SELECT email FROM customers", [null], [expr([])], [use('email')], true],
    ['SELECT row_to_json(c) FROM customers c', ['row_to_json'], [expr([use('c')], ['c'])], [], false],
    ['SELECT to_jsonb(c.*) FROM customers c', ['to_jsonb'], [expr([], ['c'])], [], false],
    ['SELECT c FROM customers c', ['c'], [expr([use('c')], ['c'])], [], false],
    ['SELECT customers FROM customers', ['customers'], [expr([use('customers')], ['customers'])], [], false],
    ['SELECT * FROM customers', [null], [star()], [], false],
    ['SELECT c.*, c.email, public.c.email FROM customers c', [null, 'email', 'email'], [star('c'), col('email', 'c'), col('email', 'public.c')], [], false],
    ['UPDATE customers SET name=\'x\' WHERE id=1 RETURNING email', ['email'], [col('email')], [], false],
    ['DELETE FROM customers WHERE id = 1 RETURNING upper(email) AS e, *', ['e', null], [expr([use('email')]), star()], [], false],
    ['WITH x AS (SELECT email FROM customers) SELECT * FROM x', [null], [star()], [use('email')], false],
    ['WITH d AS (DELETE FROM customers RETURNING email) SELECT * FROM d', [null], [star()], [use('email')], false],
    ['SELECT t.x FROM customers c, LATERAL upper(c.email) AS t(x)', ['x'], [col('x', 't')], [use('email', 'c')], false],
    ['SELECT v.x FROM customers c, LATERAL (VALUES (c.email)) v(x)', ['x'], [col('x', 'v')], [use('email', 'c')], false],
    ['SELECT s FROM (SELECT c FROM customers c) s', ['s'], [expr([use('s')], ['s'])], [use('c'), use('*', 'c')], false],
    ["VALUES (1, 'a'), (2, 'b')", ['column1', 'column2'], [expr([]), expr([])], [], false],
    ['SELECT CASE WHEN a THEN email END, coalesce(email, phone) FROM t', ['case', 'coalesce'], [expr([use('a'), use('email')]), expr([use('email'), use('phone')])], [], false],
    // (expr).* is as many columns as the row has fields, named by its type: neither its name nor its width is known.
    ['SELECT (ROW(1,1,1,email,now())::orders).*, * FROM customers', [null, null], [{ ...expr([use('email')]), expands: true }, star()], [], false],
    ['SELECT (c).* FROM customers c', [null], [{ ...expr([use('c')], ['c']), expands: true }], [], false],
    ['SELECT (f(email)).x.*, 1 AS n FROM customers', [null, 'n'], [{ ...expr([use('email')]), expands: true }, expr([])], [], false],
    ['SELECT (c).email FROM customers c', ['email'], [expr([use('c')], ['c'])], [], false],
  ])('%s', (sql, names, sources, indirect, setOperation) => {
    const f = one(sql);
    expect(f.outputs.map((o) => o.name)).toEqual(names);
    expect(f.outputs.map((o) => o.source)).toEqual(sources);
    expect(f.outputs.map((o) => o.position)).toEqual(names.map((_, i) => i + 1));
    expect(f.indirectUses).toEqual(indirect);
    expect(f.setOperation).toBe(setOperation);
  });

  it.each([
    'INSERT INTO t VALUES (1)',
    'DELETE FROM t WHERE id = 1',
    'SELECT * INTO x FROM customers',
    'EXPLAIN SELECT email FROM customers',
    'DROP TABLE t',
    'SET x = 1',
  ])('%s has no result columns', (sql) => {
    expect(one(sql).outputs).toEqual([]);
  });
});

describe('COPY', () => {
  it('COPY customers TO STDOUT sends every column of the table', () => {
    const f = one('COPY customers TO STDOUT');
    expect(f.outputs).toEqual([{ position: 1, name: null, source: star('customers') }]);
    expect(f.copy).toEqual({ direction: 'to', table: { schema: null, name: 'customers' }, columns: null, query: false, program: false, format: 'text', stdio: true, options: [], settings: { unread: [] } });
  });

  it('COPY (query) reports the query\'s columns', () => {
    const f = one('COPY (SELECT email FROM customers) TO STDOUT WITH (FORMAT csv)');
    expect(f.outputs).toEqual([{ position: 1, name: 'email', source: col('email') }]);
    expect(f.copy).toEqual({ direction: 'to', table: null, columns: null, query: true, program: false, format: 'csv', stdio: true, options: ['format'], settings: { unread: [] } });
  });

  it('COPY (set operation) is a set operation', () => {
    const f = one("COPY (SELECT email FROM customers UNION SELECT 'x') TO STDOUT");
    expect(f.setOperation).toBe(true);
    expect(f.indirectUses).toEqual([use('email')]);
  });

  it.each<[string, object, number]>([
    ['COPY public.customers (id, email) TO STDOUT (FORMAT binary)', { direction: 'to', columns: ['id', 'email'], format: 'binary', stdio: true }, 2],
    ['COPY customers TO STDOUT BINARY', { format: 'binary' }, 1],
    ['COPY customers TO STDOUT CSV HEADER', { format: 'csv' }, 1],
    ["COPY customers TO '/tmp/x'", { direction: 'to', stdio: false, program: false }, 1],
    ["COPY customers TO PROGRAM 'cat'", { direction: 'to', stdio: false, program: true }, 1],
    ['COPY customers FROM STDIN', { direction: 'from', stdio: true }, 0],
    ["COPY customers FROM '/etc/passwd' (FORMAT csv)", { direction: 'from', stdio: false, format: 'csv' }, 0],
  ])('%s', (sql, copy, outputs) => {
    const f = one(sql);
    expect(f.copy).toMatchObject(copy);
    expect(f.outputs).toHaveLength(outputs);
  });

  it.each<[string, object]>([
    ['COPY customers TO STDOUT CSV HEADER', { header: true, unread: [] }],
    ['COPY customers TO STDOUT WITH (FORMAT csv, HEADER)', { header: true, unread: [] }],
    ['COPY customers TO STDOUT WITH (HEADER 1)', { header: true, unread: [] }],
    ['COPY customers TO STDOUT WITH (HEADER 0)', { header: false, unread: [] }],
    ['COPY customers TO STDOUT WITH (HEADER off)', { header: false, unread: [] }],
    ["COPY customers TO STDOUT WITH (HEADER 'YES')", { header: true, unread: [] }],
    ["COPY customers TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'N/A', QUOTE '''', ESCAPE '\\')", { delimiter: ';', null: 'N/A', quote: "'", escape: '\\', unread: [] }],
    ["COPY customers TO STDOUT DELIMITER '|' NULL ''", { delimiter: '|', null: '', unread: [] }],
    // Spellings PostgreSQL may read but hoop does not: left unread, and masking refuses them.
    ["COPY customers TO STDOUT WITH (HEADER 'tr')", { unread: ['header'] }],
    ["COPY customers TO STDOUT WITH (HEADER match)", { unread: ['header'] }],
    ["COPY customers TO STDOUT WITH (DELIMITER 'ab')", { unread: ['delimiter'] }],
    ["COPY customers TO STDOUT WITH (DELIMITER '§')", { unread: ['delimiter'] }],
  ])('reads COPY settings exactly: %s', (sql, settings) => {
    expect(one(sql).copy!.settings).toEqual(settings);
  });
});
