/**
 * Policy on the PostgreSQL data path, end to end through the agent and gateway with real clients: guardrails
 * that block (and every bypass form), a session that stays usable after a block in both protocols, masking in
 * text, binary, COPY and RETURNING, expressions that would dodge it, and detectors on free text.
 *
 * "Never reached the server": a statement the gateway refuses carries the gateway's mark (ErrorResponse routine
 * hoop_blocked, which the server never sends) and leaves the database unchanged.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);
let stack: Stack;
let alice: User;
let port: number;
/** A tunnel to `emails`: the shop database under one table-scoped rule and no guardrails. */
let emailsPort: number;
let admin: pg.Client;
let raw: { email: string; phone: string; card: string };

const SHOP_POLICY = `
    guardrails:
      block:
        - ddl
        - truncate
        - delete_without_where
        - update_without_where
        - copy_program
        - grant
        - { function: pg_terminate_backend }
        - { function: dblink }
        - { function: lo_export, message: Exporting large objects is not allowed here }
        - { function: pg_read_file }
        - { function: pg_read_binary_file }
        - { table: public.secrets, message: Ask the security team }
    masking:
      columns: { public.customers.email: partial, "*.card_number": redact, public.customers.phone: hash }
      detectors: [email, credit_card, iban, us_ssn, phone, secret]`;

beforeAll(async () => {
  stack = await startStack({
    shopExtra: SHOP_POLICY,
    extraConnections: `
  - name: emails
    type: postgres
    host: 127.0.0.1
    port: \${env:SHOP_PORT}
    database: \${env:SHOP_DB}
    user: \${env:SHOP_USER}
    password: \${env:SHOP_PW}
    tls: { mode: disable }
    access: { groups: [engineers] }
    masking:
      columns: { public.customers.email: redact }`,
  });
  admin = new pg.Client({ connectionString: stack.shopAdminUrl });
  await admin.connect();
  await admin.query(`CREATE TABLE secrets (id int, token text); INSERT INTO secrets VALUES (1, 'top')`);
  await admin.query(`CREATE TABLE notes (id int PRIMARY KEY, body text)`);
  await admin.query(`INSERT INTO notes VALUES (1, 'call jane.doe@corp.example or +1 415-555-0100'), (2, 'ssn 123-45-6789, card 4242 4242 4242 4242'), (3, 'nothing sensitive; order 2024-01-05')`);
  await admin.query(`ALTER TABLE secrets OWNER TO ${stack.shopRole}; ALTER TABLE notes OWNER TO ${stack.shopRole}`);
  const r = await admin.query(`SELECT c.email, c.phone, k.card_number FROM customers c JOIN cards k ON k.customer_id = c.id WHERE c.id = 1`);
  raw = { email: r.rows[0].email, phone: r.rows[0].phone, card: r.rows[0].card_number };
  alice = new User('alice', stack);
  expect((await alice.login()).code).toBe(0);
  ({ port } = await alice.connect('shop'));
  ({ port: emailsPort } = await alice.connect('emails'));
});

afterAll(async () => {
  await admin?.end();
  await alice?.stopAgent();
  await stack?.close();
});

async function withClient<T>(fn: (c: pg.Client) => Promise<T>, through = port): Promise<T> {
  const c = tunnelClient(through);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The gateway's refusal: SQLSTATE 42501 with hoop's mark; the server never sent it. Returns its message. */
async function expectBlocked(p: Promise<unknown>, rule: string): Promise<string> {
  const e = (await p.then(() => null, (x: unknown) => x)) as { code?: string; routine?: string; message: string } | null;
  expect(e, 'the statement was not blocked').not.toBeNull();
  expect(e).toMatchObject({ code: '42501', routine: 'hoop_blocked' });
  expect(e!.message).toContain(`(rule ${rule})`);
  return e!.message;
}

const count = async (sql: string): Promise<number> => Number((await admin.query(sql)).rows[0].n);

describe('guardrails', () => {
  it('blocks each class, and the blocked statement never reaches the server', async () => {
    await withClient(async (c) => {
      const orders = await count('SELECT count(*) AS n FROM orders');
      await expectBlocked(c.query('DROP TABLE orders'), 'ddl');
      await expectBlocked(c.query('CREATE INDEX i ON orders (status)'), 'ddl');
      await expectBlocked(c.query('TRUNCATE orders'), 'truncate');
      await expectBlocked(c.query('DELETE FROM orders'), 'delete_without_where');
      await expectBlocked(c.query(`UPDATE orders SET status = 'x'`), 'update_without_where');
      await expectBlocked(c.query(`COPY orders TO PROGRAM 'cat > /tmp/hoop-should-not-exist'`), 'copy_program');
      await expectBlocked(c.query(`GRANT SELECT ON orders TO PUBLIC`), 'grant');
      expect(await count('SELECT count(*) AS n FROM orders')).toBe(orders);
      expect(await count(`SELECT count(*) AS n FROM orders WHERE status = 'x'`)).toBe(0);
      expect(await count(`SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'i'`)).toBe(0);
    });
  });

  it('blocks denied functions and tables, with custom messages', async () => {
    const victim = new pg.Client({ connectionString: stack.shopAdminUrl });
    await victim.connect();
    const pid = (await victim.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
    await withClient(async (c) => {
      await expectBlocked(c.query('SELECT pg_terminate_backend($1)', [pid]), 'function:pg_terminate_backend');
      await expectBlocked(c.query(`SELECT * FROM dblink('x', 'y') AS t(a int)`), 'function:dblink');
      const lo = (await c.query(`SELECT lo_export(1, '/tmp/x')`).catch((e: unknown) => e)) as { message: string };
      expect(lo.message).toBe('Exporting large objects is not allowed here (rule function:lo_export)');
      await expectBlocked(c.query(`SELECT length(pg_read_file('/etc/passwd'))`), 'function:pg_read_file');
      await expectBlocked(c.query(`SELECT length(pg_read_binary_file('/etc/passwd'))`), 'function:pg_read_binary_file');
      await expectBlocked(c.query('SELECT token FROM secrets'), 'table:public.secrets');
      await expectBlocked(c.query('SELECT token FROM "public"."secrets"'), 'table:public.secrets');
    });
    expect((await victim.query('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }]);
    await victim.end();
  });

  it('catches the bypass forms: CTE, comments, multi-statement, mixed case, DO blocks, EXPLAIN ANALYZE', async () => {
    await withClient(async (c) => {
      const orders = await count('SELECT count(*) AS n FROM orders');
      await expectBlocked(c.query('WITH gone AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM gone'), 'delete_without_where');
      await expectBlocked(c.query('/* harmless */ DROP TABLE orders'), 'ddl');
      await expectBlocked(c.query('-- comment\nDROP TABLE orders'), 'ddl');
      await expectBlocked(c.query('SELECT 1; DROP TABLE orders'), 'ddl');
      await expectBlocked(c.query('dRoP tAbLe OrDeRs'), 'ddl');
      await expectBlocked(c.query(`DO $$ BEGIN EXECUTE 'DROP TABLE orders'; END $$`), 'ddl');
      await expectBlocked(c.query(`DO $$ BEGIN EXECUTE 'DR' || 'OP TABLE orders'; END $$`), 'ddl');
      await expectBlocked(c.query(`DO $$ BEGIN DELETE FROM orders; END $$`), 'delete_without_where');
      await expectBlocked(c.query(`DO $$ DECLARE t text := 'orders'; BEGIN EXECUTE 'DROP TABLE ' || t; END $$`), 'unverifiable');
      await expectBlocked(c.query('EXPLAIN ANALYZE DELETE FROM orders'), 'delete_without_where');
      await expectBlocked(c.query('SELEC 1'), 'unparsable');
      expect(await count('SELECT count(*) AS n FROM orders')).toBe(orders);
    });
  });

  it('keeps the session usable after a block, in the simple and the extended protocol', async () => {
    await withClient(async (c) => {
      await expectBlocked(c.query('DROP TABLE orders'), 'ddl');
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      // extended protocol (parameters): the block discards up to Sync, then ReadyForQuery; pg carries on
      await expectBlocked(c.query('SELECT $1::int; DROP TABLE orders', [1]), 'ddl');
      await expectBlocked(c.query({ text: 'SELECT token FROM secrets WHERE id = $1', values: [1] }), 'table:public.secrets');
      expect((await c.query('SELECT $1::int + 1 AS two', [1])).rows).toEqual([{ two: 2 }]);
    });
  });

  it('fails the transaction a statement was refused in, as PostgreSQL would: nothing of it commits', async () => {
    await withClient(async (c) => {
      const before = (await admin.query('SELECT status FROM orders WHERE id = 20')).rows[0].status as string;
      await c.query('BEGIN');
      await c.query(`UPDATE orders SET status = 'partial' WHERE id = 20`);
      await expectBlocked(c.query('TRUNCATE orders'), 'truncate');
      await expect(c.query('SELECT 3')).rejects.toMatchObject({ code: '25P02' });
      const commit = await c.query('COMMIT');
      expect(commit.command).toBe('ROLLBACK');
      expect((await admin.query('SELECT status FROM orders WHERE id = 20')).rows[0].status).toBe(before);
      // and the session goes on normally
      expect((await c.query('SELECT 4 AS next')).rows).toEqual([{ next: 4 }]);
      // a savepoint recovers the transaction, as in PostgreSQL
      await c.query('BEGIN');
      await c.query('SAVEPOINT s');
      await expectBlocked(c.query('DROP TABLE orders'), 'ddl');
      await c.query('ROLLBACK TO SAVEPOINT s');
      expect((await c.query('SELECT 5 AS recovered')).rows).toEqual([{ recovered: 5 }]);
      await c.query('ROLLBACK');
    });
  });

  it('works the same for psql', async () => {
    const url = `postgresql://alice@127.0.0.1:${port}/shop?sslmode=disable`;
    const e = await run('psql', [url, '-X', '-v', 'ON_ERROR_STOP=1', '-c', 'DROP TABLE orders']).catch((x: unknown) => x as { stderr: string; code: number });
    expect((e as { code: number }).code).not.toBe(0);
    expect((e as { stderr: string }).stderr).toContain('ERROR:  hoop: DDL is blocked');
    const { stdout } = await run('psql', [url, '-XAt', '-c', 'SELECT count(*) > 0 FROM orders']);
    expect(stdout.trim()).toBe('t');
  });

  it('allows ordinary work', async () => {
    await withClient(async (c) => {
      await c.query('BEGIN');
      expect((await c.query(`UPDATE orders SET status = 'paid' WHERE id = 1`)).rowCount).toBe(1);
      expect((await c.query(`DELETE FROM orders WHERE id = 2`)).rowCount).toBe(1);
      await c.query('ROLLBACK');
    });
  });
});

function isMasked(value: unknown, rawValue: string): boolean {
  if (value === null) return true;
  const s = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  const local = rawValue.includes('@') ? rawValue.split('@')[0]! : rawValue;
  const core = local.replace(/[^a-z0-9]/gi, '').toLowerCase();
  // Compared without punctuation on both sides: 'ada.lovelace0' is in 'ADA.LOVELACE0@…' and in 'a-d-a…' alike.
  const flat = s.replace(/[^a-z0-9]/gi, '').toLowerCase();
  return !flat.includes(core) && !s.includes(Buffer.from(rawValue).toString('base64'));
}

describe('masking', () => {
  it('masks by column rule in text format, keeping the shape for partial', async () => {
    const r = await withClient((c) => c.query('SELECT id, name, email, phone FROM customers WHERE id = 1'));
    const row = r.rows[0];
    expect(row.email).toMatch(/^[a-z]\*\*\*@example\.com$/);
    expect(row.email[0]).toBe(raw.email[0]);
    expect(row.phone).toMatch(/^hash:[0-9a-f]{16}$/);
    expect(row.name).not.toContain('*');
    // hash is deterministic: the same value masks the same way
    const again = await withClient((c) => c.query('SELECT phone FROM customers WHERE id = 1'));
    expect(again.rows[0].phone).toBe(row.phone);
  });

  it('masks binary-format results', async () => {
    const r = await withClient((c) => c.query({ text: 'SELECT email, card_number FROM customers c JOIN cards k ON k.customer_id = c.id WHERE c.id = $1', values: [1], binary: true } as pg.QueryConfig));
    const email = Buffer.isBuffer(r.rows[0].email) ? r.rows[0].email.toString() : r.rows[0].email;
    expect(email).toMatch(/^[a-z]\*\*\*@example\.com$/);
    const card = Buffer.isBuffer(r.rows[0].card_number) ? r.rows[0].card_number.toString() : r.rows[0].card_number;
    expect(card).toBe('***');
  });

  it('masks COPY … TO STDOUT, for a table and for a query, in text and csv', async () => {
    await withClient(async (c) => {
      const collect = async (sql: string): Promise<string> => {
        let out = '';
        await pipeline(c.query(copyTo(sql)), new Writable({ write(chunk: Buffer, _e, cb) { out += chunk.toString(); cb(); } }));
        return out;
      };
      const t = await collect('COPY customers (id, email) TO STDOUT');
      const first = t.split('\n')[0]!.split('\t');
      expect(first[1]).toMatch(/^[a-z]\*\*\*@example\.com$/);
      expect(t).not.toContain(raw.email);
      const q = await collect(`COPY (SELECT customer_id, card_number FROM cards ORDER BY id LIMIT 3) TO STDOUT WITH (FORMAT csv)`);
      expect(q.trim().split('\n').map((l) => l.split(',')[1])).toEqual(['***', '***', '***']);
      await expectBlocked(collect('COPY customers TO STDOUT WITH (FORMAT binary)'), 'masking');
    });
  });

  it('masks COPY with HEADER, DELIMITER, NULL and QUOTE, and passes the header line as it is', async () => {
    await withClient(async (c) => {
      const collect = async (sql: string): Promise<string[]> => {
        let out = '';
        await pipeline(c.query(copyTo(sql)), new Writable({ write(chunk: Buffer, _e, cb) { out += chunk.toString(); cb(); } }));
        return out.trimEnd().split('\n');
      };
      const csv = await collect("COPY (SELECT id, email, NULL::text AS note FROM customers ORDER BY id LIMIT 2) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'none', QUOTE '|')");
      expect(csv[0]).toBe('id;email;note');
      expect(csv).toHaveLength(3);
      for (const line of csv.slice(1)) {
        const [, email, note] = line.split(';');
        expect(email).toMatch(/^[a-z]\*\*\*@example\.com$/);
        expect(note).toBe('none');
      }
      const text = await collect('COPY customers (id, email) TO STDOUT WITH (HEADER true)');
      expect(text[0]).toBe('id\temail');
      expect(text.slice(1).join('\n')).not.toContain(raw.email);
      expect(text[1]!.split('\t')[1]).toMatch(/^[a-z]\*\*\*@example\.com$/);
    });
  });

  it('masks RETURNING rows', async () => {
    await withClient(async (c) => {
      await c.query('BEGIN');
      const r = await c.query(`UPDATE customers SET city = city WHERE id = 1 RETURNING id, email`);
      await c.query('ROLLBACK');
      expect(r.rows[0].email).toMatch(/^[a-z]\*\*\*@example\.com$/);
    });
  });

  const dodges: [string, string, keyof typeof raw][] = [
    ['upper(email)', 'SELECT upper(email) AS v FROM customers WHERE id = 1', 'email'],
    ["email || ''", "SELECT email || '' AS v FROM customers WHERE id = 1", 'email'],
    ['substr(card_number, 1, 16)', 'SELECT substr(card_number, 1, 16) AS v FROM cards WHERE customer_id = 1', 'card'],
    ['base64 of the email', "SELECT encode(convert_to(email, 'UTF8'), 'base64') AS v FROM customers WHERE id = 1", 'email'],
    ['a cast', 'SELECT email::varchar(200) AS v FROM customers WHERE id = 1', 'email'],
    ['a scalar subquery', 'SELECT (SELECT email FROM customers WHERE id = 1) AS v', 'email'],
    ['a derived table', 'SELECT v FROM (SELECT lower(email) AS v FROM customers WHERE id = 1) s', 'email'],
    ['a union', "SELECT email AS v FROM customers WHERE id = 1 UNION ALL SELECT 'x'", 'email'],
    ['a whole row', 'SELECT row_to_json(c) AS v FROM customers c WHERE id = 1', 'email'],
    ['a CTE', 'WITH x AS (SELECT email || \'!\' AS v FROM customers WHERE id = 1) SELECT v FROM x', 'email'],
    ['a subquery in an explicit JOIN', "SELECT s.v FROM orders o JOIN (SELECT id, replace(email, '@', ' at ') AS v FROM customers) s ON s.id = o.customer_id LIMIT 1", 'email'],
    ['an expression beside *', 'SELECT *, upper(email) AS v FROM customers WHERE id = 1', 'email'],
    ['a wrapper that partial masking would keep', "SELECT 'a@' || card_number || '.com' AS v FROM cards WHERE customer_id = 1", 'card'],
    ['an email rebuilt around the value', "SELECT 'x' || email AS v FROM customers WHERE id = 1", 'email'],
  ];
  for (const [what, sql, col] of dodges) {
    it(`never returns the raw value through ${what}: masked whole or refused`, async () => {
      const out = await withClient((c) => c.query(sql).then((r) => ({ rows: r.rows }), (e: unknown) => ({ error: e as { code?: string; routine?: string } })));
      if ('error' in out) {
        expect(out.error).toMatchObject({ code: '42501', routine: 'hoop_blocked' });
      } else {
        for (const row of out.rows) expect(isMasked(row.v, raw[col]), `${sql} returned ${JSON.stringify(row.v)}`).toBe(true);
      }
    });
  }

  it('refuses what it cannot mask: PREPARE and cursors over masked tables, COPY (SELECT *), COPY options', async () => {
    await withClient(async (c) => {
      await expectBlocked(c.query('PREPARE p AS SELECT upper(email) FROM customers'), 'masking');
      await c.query('BEGIN');
      await expectBlocked(c.query('DECLARE cur CURSOR FOR SELECT upper(email) FROM customers'), 'masking');
      await c.query('ROLLBACK');
      await expectBlocked(c.query("COPY (SELECT * FROM customers) TO STDOUT"), 'masking');
      await expectBlocked(c.query('COPY customers (id, email) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)'), 'masking');
      await expectBlocked(c.query('COPY customers (id, email) TO STDOUT WITH (FORMAT csv, ENCODING \'LATIN1\')'), 'masking');
      // A HEADER spelling hoop does not read exactly: it cannot tell whether the first row is data.
      await expectBlocked(c.query("COPY customers (id, email) TO STDOUT WITH (FORMAT csv, HEADER 'tr')"), 'masking');
      // a "*.card_number" rule could name a column of any table: PREPARE is refused over every table then
      const why = await expectBlocked(c.query('PREPARE p2 AS SELECT count(*) FROM orders'), 'masking');
      expect(why).toContain('(orders: rule *.card_number, which can name a column of any table)');
      await c.query('BEGIN');
      expect(await expectBlocked(c.query('DECLARE c CURSOR FOR SELECT count(*) FROM orders'), 'masking')).toContain('rule *.card_number, which can name a column of any table');
      await c.query('ROLLBACK');
    });
  });

  it('masks an unqualified table whatever schema the search_path resolves it to', async () => {
    await admin.query(`CREATE SCHEMA IF NOT EXISTS sales AUTHORIZATION ${stack.shopRole}`);
    await admin.query(`CREATE TABLE IF NOT EXISTS sales.customers (id int, email text); INSERT INTO sales.customers VALUES (1, 'zed.quux@example.org'); ALTER TABLE sales.customers OWNER TO ${stack.shopRole}`);
    await withClient(async (c) => {
      await c.query('SET search_path = sales');
      const r = await c.query('SELECT lower(email) AS v FROM customers WHERE id = 1');
      expect(isMasked(r.rows[0].v, 'zed.quux@example.org')).toBe(true);
    });
  });

  it('masks what detectors find in free text, and leaves the rest', async () => {
    const r = await withClient((c) => c.query('SELECT id, body FROM notes ORDER BY id'));
    const [a, b, n] = r.rows.map((x) => x.body as string);
    expect(a).not.toContain('jane.doe@corp.example');
    expect(a).not.toContain('415-555-0100');
    expect(a!.startsWith('call ')).toBe(true);
    expect(b).not.toContain('123-45-6789');
    expect(b).not.toContain('4242 4242 4242 4242');
    expect(n).toBe('nothing sensitive; order 2024-01-05');
  });

  it('records which rule masked which column, and how many values', async () => {
    const c = tunnelClient(port, { application_name: 'masking-summary' });
    await c.connect();
    await c.query('SELECT email FROM customers ORDER BY id LIMIT 7');
    await c.end();
    let details: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !details; i++) {
      const list = JSON.parse((await alice.hoop(['sessions', '--json'])).stdout) as { sessions: { id: string; client_application: string; ended_at: string | null }[] };
      const s = list.sessions.find((x) => x.client_application === 'masking-summary' && x.ended_at);
      if (s) {
        const state = new pg.Client({ connectionString: stack.stateUrl });
        await state.connect();
        const res = await state.query(`SELECT details FROM statements WHERE session_id = $1 AND text LIKE 'SELECT email%'`, [s.id]);
        await state.end();
        details = res.rows[0]?.details as Record<string, unknown> | undefined;
      }
      if (!details) await new Promise((res) => setTimeout(res, 100));
    }
    expect(details).toMatchObject({ masking: { email: { rule: 'public.customers.email', values: 7 } } });
  });

  /** Every customer's raw email, by id (LIMIT 1 without ORDER BY may pick any row). */
  const emailsById = async (): Promise<Map<number, string>> =>
    new Map((await admin.query('SELECT id, email FROM customers')).rows.map((r: { id: number; email: string }) => [r.id, r.email]));

  /** Notices a client receives, as text. */
  const collectNotices = (c: pg.Client): string[] => {
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ''));
    return notices;
  };

  it('refuses a DO block that reads a masked table: no cursor, NOTICE or other table carries its values out', async () => {
    const emails = [...(await emailsById()).values()];
    await withClient(async (c) => {
      const notices = collectNotices(c);
      // The review's reproduction, as one message and statement by statement.
      const why = await expectBlocked(c.query(`BEGIN; DO $$ DECLARE c refcursor := 'c'; BEGIN OPEN c FOR SELECT email FROM customers; END $$; FETCH 2 FROM c;`), 'masking');
      expect(why).toContain('hoop: a DO block that reads a table with masked columns (customers: rule public.customers.email) cannot be masked');
      await c.query('BEGIN');
      await expectBlocked(c.query(`DO $$ DECLARE c refcursor := 'c'; BEGIN OPEN c FOR SELECT email FROM customers; END $$`), 'masking');
      await expect(c.query('FETCH 2 FROM c')).rejects.toMatchObject({ code: '25P02' }); // the refusal failed the transaction
      await c.query('ROLLBACK');
      await expectBlocked(c.query(`DO $$ BEGIN RAISE NOTICE '%', (SELECT email FROM customers LIMIT 1); END $$`), 'masking');
      await expectBlocked(c.query(`DO $$ DECLARE v text; BEGIN SELECT email INTO v FROM customers WHERE id = 1; RAISE NOTICE '%', v; END $$`), 'masking');
      await expectBlocked(c.query(`DO $$ BEGIN INSERT INTO notes (id, body) SELECT 100 + id, email FROM customers WHERE id = 1; END $$`), 'masking');
      // The notices are heard: a block that reads no table runs, and its NOTICE arrives.
      await c.query(`DO $$ BEGIN RAISE NOTICE 'hello %', 1 + 1; END $$`);
      expect(notices).toContain('hello 2');
      for (const e of emails) expect(notices.join('\n')).not.toContain(e);
    });
    expect(await count('SELECT count(*) AS n FROM notes WHERE id > 100')).toBe(0);
  });

  it('refuses CREATE TEMP TABLE … AS inside a DO block, and names why a table-less rule refuses blocks over any table', async () => {
    // On `emails` (no guardrails, one table-scoped rule): a table no rule names has no masked columns.
    await withClient(async (c) => {
      const notices = collectNotices(c);
      await expectBlocked(c.query(`DO $$ BEGIN CREATE TEMP TABLE t2 AS SELECT email FROM customers; END $$`), 'masking');
      await expect(c.query('SELECT * FROM t2')).rejects.toMatchObject({ code: '42P01' });
      await c.query(`DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM orders; RAISE NOTICE 'orders: %', n; END $$`);
      expect(notices).toEqual([`orders: ${await count('SELECT count(*) AS n FROM orders')}`]);
    }, emailsPort);
    // On `shop`, "*.card_number" may name a column of any table, orders included.
    await withClient(async (c) => {
      const why = await expectBlocked(c.query(`DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM orders; RAISE NOTICE '%', n; END $$`), 'masking');
      expect(why).toContain('(orders: rule *.card_number, which can name a column of any table)');
    });
  });

  it('masks every column of a (ROW(…)::orders).* whole: its width does not shift later columns onto the wrong facts', async () => {
    const byId = await emailsById();
    // On `emails` no detector stands behind the column rules, as on `shop`.
    for (const [through, emailShape] of [[port, /^[a-z]\*\*\*@example\.com$/], [emailsPort, /^\*\*\*$/]] as const) {
      const r = await withClient((c) => c.query({ text: 'SELECT (ROW(1,1,1,email,now())::orders).*, * FROM customers', rowMode: 'array' }), through);
      expect(r.fields.map((f) => f.name)).toEqual(['id', 'customer_id', 'amount_cents', 'status', 'created_at', 'id', 'name', 'email', 'phone', 'city', 'created_at']);
      expect(r.rows).toHaveLength(byId.size);
      for (const row of r.rows as unknown[][]) {
        const email = byId.get(row[5] as number)!;
        expect(email).toBeDefined();
        for (const v of row) expect(isMasked(v, email), `a column returned ${JSON.stringify(v)}`).toBe(true);
        expect(row[3]).toBe('***'); // `status` holds the email: masked whole
        expect(row[7]).toMatch(emailShape); // customers.email, by its origin
      }
      // A whole row expanded is refused.
      await withClient((c) => expectBlocked(c.query('SELECT (c).* FROM customers c'), 'masking'), through);
    }
  });

  it('refuses masked columns passed to pg_notify or set_config, and lets other values through', async () => {
    const emails = [...(await emailsById()).values()];
    await withClient(async (c) => {
      const heard: string[] = [];
      c.on('notification', (n) => heard.push(n.payload ?? ''));
      await c.query('LISTEN ch');
      expect(await expectBlocked(c.query(`SELECT pg_notify('ch', email) FROM customers`), 'masking')).toContain('pg_notify() is given the masked column email (rule public.customers.email)');
      expect(await expectBlocked(c.query(`SELECT set_config('my.x', email, false) FROM customers LIMIT 1`), 'masking')).toContain('set_config() is given the masked column email');
      await expect(c.query('SHOW my.x')).rejects.toMatchObject({ code: '42704' }); // never set
      expect((await c.query(`SELECT current_setting('my.x', true) AS v`)).rows).toEqual([{ v: null }]);
      await c.query(`SELECT pg_notify('ch', 'hello')`);
      for (let i = 0; i < 50 && !heard.includes('hello'); i++) await new Promise((res) => setTimeout(res, 20));
      expect(heard).toEqual(['hello']);
      for (const e of emails) expect(heard.join('\n')).not.toContain(e);
    });
  });
});
