/**
 * Masking's decisions from a statement's text, by table: what is refused before it runs (maskingRefusal) and how
 * a result's columns are planned (planResult). Statements go through the real parser, as in the gateway.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { toMaskingRules } from '../../../../../gateway/config/masking-schema.js';
import { maskingRefusal, planResult, type ColumnOrigin } from '../../../../../gateway/engines/postgres/masking-plan.js';
import { loadSqlModule, parseSql } from '../../../../../gateway/policy/sql/analyze.js';
import type { StatementFacts } from '../../../../../gateway/policy/sql/facts.js';

/** The e2e shop's rules: one table-scoped rule per column, and a table-less `*.card_number`. */
const SHOP = toMaskingRules({
  columns: { 'public.customers.email': 'partial', '*.card_number': 'redact', 'public.customers.phone': 'hash' },
  detectors: ['email'],
  detector_strategy: 'redact',
})!;
/** Table-scoped rules only: a table no rule names has no masked columns. */
const EMAIL_ONLY = toMaskingRules({ columns: { 'public.customers.email': 'redact' }, detectors: [], detector_strategy: 'redact' })!;

beforeAll(async () => {
  await loadSqlModule();
});

function facts(sql: string): StatementFacts[] {
  const r = parseSql(sql);
  if (!r.ok) throw new Error(`did not parse: ${r.error}`);
  return r.statements;
}

const refusal = (sql: string, rules = SHOP): string | null => maskingRefusal(facts(sql), rules);

describe('DO blocks that read a table with masked columns are refused', () => {
  it.each([
    // A cursor opened inside the block, fetched after it: FETCH returns the raw values.
    "DO $$ DECLARE c refcursor := 'c'; BEGIN OPEN c FOR SELECT email FROM customers; END $$",
    'DO $$ DECLARE c CURSOR FOR SELECT email FROM customers; BEGIN OPEN c; END $$',
    // RAISE sends the value in a NoticeResponse.
    "DO $$ BEGIN RAISE NOTICE '%', (SELECT email FROM customers LIMIT 1); END $$",
    "DO $$ DECLARE v text; BEGIN SELECT email INTO v FROM customers LIMIT 1; RAISE NOTICE '%', v; END $$",
    "DO $$ DECLARE v text; BEGIN UPDATE customers SET city = city WHERE id = 1 RETURNING email INTO v; RAISE NOTICE '%', v; END $$",
    // Into another table, read later under a name no rule covers.
    'DO $$ BEGIN INSERT INTO t2 SELECT email FROM customers; END $$',
    'DO $$ BEGIN CREATE TEMP TABLE t2 AS SELECT email FROM customers; END $$',
    // Whatever the block selects: count(*) too (hoop does not follow values through PL/pgSQL variables).
    "DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM public.customers; RAISE NOTICE '%', n; END $$",
    // Constant dynamic SQL is read like the rest of the body.
    "DO $$ BEGIN EXECUTE 'INSERT INTO t2 SELECT email FROM ' || 'customers'; END $$",
    "DO $$ DECLARE c refcursor := 'c'; BEGIN OPEN c FOR EXECUTE 'SELECT email FROM customers'; END $$",
  ])('%s', (sql) => {
    for (const rules of [SHOP, EMAIL_ONLY]) {
      expect(refusal(sql, rules)).toBe(
        `hoop: a DO block that reads a table with masked columns (${sql.includes('public.customers') ? 'public.' : ''}customers: rule public.customers.email) cannot be masked: its values can leave through RAISE, cursors or other tables; run the statements directly`,
      );
    }
  });

  it('says why a table-less rule refuses a block over any table', () => {
    expect(refusal("DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM orders; RAISE NOTICE '%', n; END $$")).toBe(
      'hoop: a DO block that reads a table with masked columns (orders: rule *.card_number, which can name a column of any table) cannot be masked: its values can leave through RAISE, cursors or other tables; run the statements directly',
    );
  });

  it.each<[string, typeof SHOP]>([
    // Without a table-less rule, a table no rule names has no masked columns.
    ["DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM orders; RAISE NOTICE '%', n; END $$", EMAIL_ONLY],
    ["DO $$ DECLARE c refcursor := 'c'; BEGIN OPEN c FOR SELECT status FROM orders; END $$", EMAIL_ONLY],
    ["DO $$ BEGIN UPDATE orders SET status = 'paid' WHERE id = 1; END $$", EMAIL_ONLY],
    // A block that reads no table at all passes under any rule.
    ["DO $$ BEGIN RAISE NOTICE 'hello %', 1 + 1; END $$", SHOP],
    ["DO $$ DECLARE v int := 2; BEGIN PERFORM pg_sleep(0); RAISE NOTICE '%', v * 2; END $$", SHOP],
  ])('passes: %s', (sql, rules) => {
    expect(refusal(sql, rules)).toBeNull();
  });

  it('leaves DO blocks alone on a connection without column rules', () => {
    const detectorsOnly = toMaskingRules({ columns: {}, detectors: ['email'], detector_strategy: 'redact' });
    expect(maskingRefusal(facts("DO $$ BEGIN RAISE NOTICE '%', (SELECT email FROM customers LIMIT 1); END $$"), detectorsOnly)).toBeNull();
  });
});

describe('masked columns passed to pg_notify or set_config are refused', () => {
  it.each<[string, string]>([
    ["SELECT pg_notify('ch', email) FROM customers", "hoop: pg_notify() is given the masked column email (rule public.customers.email) and sends it as a notification to every listening session, where hoop cannot mask it; do not pass masked columns to pg_notify()"],
    ["SELECT set_config('my.x', email, false) FROM customers LIMIT 1", "hoop: set_config() is given the masked column email (rule public.customers.email) and stores it in a setting that SHOW and current_setting() return, where hoop cannot mask it; do not pass masked columns to set_config()"],
    ["SELECT pg_catalog.pg_notify('ch', upper(c.email)) FROM customers c", 'pg_notify() is given the masked column c.email (rule public.customers.email)'],
    ["SELECT 1 FROM customers c WHERE pg_notify('ch', 'x' || c.phone) IS NULL", 'pg_notify() is given the masked column c.phone (rule public.customers.phone)'],
    ["SELECT pg_notify('ch', k.card_number) FROM cards k", 'pg_notify() is given the masked column k.card_number (rule *.card_number, which can name a column of any table)'],
    ["SELECT 1 FROM customers c WHERE pg_notify('ch', c::text) IS NULL", 'pg_notify() is given the whole row c (rule public.customers.email)'],
    ["SELECT pg_notify('ch', x) FROM customers, LATERAL set_config('my.x', email, true) AS s(x)", 'set_config() is given the masked column email'],
    ["SELECT 1 FROM customers WHERE set_config(setting_name => 'my.x', new_value => email, is_local => false) IS NULL", 'set_config() is given the masked column email'],
  ])('%s', (sql, message) => {
    expect(refusal(sql)).toContain(message);
  });

  it.each([
    "SELECT pg_notify('ch', 'hello')",
    "SELECT pg_notify('ch', status) FROM orders",
    "SELECT set_config('my.x', name, false) FROM customers WHERE id = 1",
    "SELECT set_config('application_name', 'report', false)",
    'SELECT upper(email) FROM customers', // masked whole in the result
  ])('passes: %s', (sql) => {
    expect(refusal(sql)).toBeNull();
  });
});

describe('PREPARE and DECLARE CURSOR name the rule that refuses them', () => {
  it.each<[string, string]>([
    ['PREPARE p AS SELECT upper(email) FROM customers', '(customers: rule public.customers.email)'],
    ['DECLARE c CURSOR FOR SELECT email FROM public.customers', '(public.customers: rule public.customers.email)'],
    // The gateway cannot tell from the text which tables have a card_number column: all of them may.
    ['PREPARE p2 AS SELECT count(*) FROM orders', '(orders: rule *.card_number, which can name a column of any table)'],
    ['DECLARE c CURSOR FOR SELECT count(*) FROM orders', '(orders: rule *.card_number, which can name a column of any table)'],
  ])('%s', (sql, why) => {
    expect(refusal(sql)).toBe(`hoop: PREPARE and DECLARE CURSOR over tables with masked columns cannot be masked ${why}; run the query directly (drivers' prepared statements are fine)`);
  });

  it('passes a cursor over a table no rule can name', () => {
    expect(refusal('DECLARE c CURSOR FOR SELECT count(*) FROM orders', EMAIL_ONLY)).toBeNull();
  });
});

describe('(expr).* in the select list', () => {
  const orderFields = ['id', 'customer_id', 'amount_cents', 'status', 'created_at'];
  const customerFields = ['id', 'name', 'email', 'phone', 'city', 'created_at'];
  const customers = (column: string): ColumnOrigin => ({ schema: 'public', table: 'customers', column });

  it('masks every column without an origin when the row value uses a masked column', () => {
    // The server expands (…::orders).* into orders' five columns: the email lands in `status`, with no origin.
    const [f] = facts('SELECT (ROW(1,1,1,email,now())::orders).*, * FROM customers');
    const fields = [...orderFields, ...customerFields].map((name) => ({ name }));
    const origins = [...orderFields.map(() => null), ...customerFields.map(customers)];
    const plan = planResult(fields, origins, f, SHOP);
    for (const i of [0, 1, 2, 3, 4]) expect(plan[i], `column ${i + 1} (${fields[i]!.name})`).toEqual({ action: { kind: 'rule', strategy: 'redact' }, rule: 'public.customers.email' });
    // The columns of * keep their origin's rule, or detectors.
    expect(plan[7]).toEqual({ action: { kind: 'rule', strategy: 'partial' }, rule: 'public.customers.email' });
    expect(plan[8]).toEqual({ action: { kind: 'rule', strategy: 'hash' }, rule: 'public.customers.phone' });
    expect(plan[6]!.rule).toBe('detectors');
  });

  it('also after the expansion, without a *', () => {
    const [f] = facts("SELECT (ROW(1, 'a')::pair).*, upper(email) AS e FROM customers");
    const plan = planResult([{ name: 'n' }, { name: 's' }, { name: 'e' }], [null, null, null], f, EMAIL_ONLY);
    expect(plan.map((p) => p.rule)).toEqual(['public.customers.email', 'public.customers.email', 'public.customers.email']);
  });

  it('does not mask by position when the row value uses no masked column', () => {
    const [f] = facts('SELECT (ROW(1, 2)::pair).*, id FROM customers');
    const plan = planResult([{ name: 'a' }, { name: 'b' }, { name: 'id' }], [null, null, customers('id')], f, EMAIL_ONLY);
    expect(plan.map((p) => p.action)).toEqual([null, null, null]);
  });

  it('refuses a whole row expanded, and COPY of an (expr).*', () => {
    expect(refusal('SELECT (c).* FROM customers c')).toMatch(/^hoop: "c" is returned as a whole row, but it has masked columns/);
    expect(refusal('SELECT (ROW(c.*)::customers).* FROM customers c')).toMatch(/"c" is returned as a whole row/);
    expect(refusal('COPY (SELECT (ROW(1, email)::pair).* FROM customers) TO STDOUT')).toBe(
      'hoop: COPY (SELECT * …) or COPY (SELECT (…).* …) over tables with masked columns cannot be masked; name the columns',
    );
  });
});
