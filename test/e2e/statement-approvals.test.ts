/**
 * Statements held for human approval, through the real gateway with pg, psql and `hoop exec`: the client is
 * told the review id at once, an approver decides with the CLI, and the statement runs once, exactly as
 * approved — or ends with an error naming the review. Also `hoop exec`'s exit codes for policy and its masked
 * output in every format.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { hoopOnTerminal } from '../helpers/terminal.js';

let stack: Stack;
let hook: WebhookReceiver;
let alice: User;
let bob: User;
let dana: User;
let port: number;
let admin: pg.Client;

beforeAll(async () => {
  hook = await startWebhookReceiver();
  stack = await startStack({
    extraUsers: [{ username: 'dana', password: 'dana', groups: ['dba'] }],
    shopExtra: `
    guardrails: { block: [ddl] }
    approvals:
      - name: order-deletes
        match: { statements: [delete], tables: [public.orders] }
        approvers: [dba]
        timeout: 2m
      - name: card-updates
        match: { statements: [update], tables: [public.cards] }
        approvers: [dba]
        min_approvals: 2
        timeout: 2m
      - name: quick
        match: { statements: [delete], tables: [public.scratch] }
        approvers: [dba]
        timeout: 2s
    masking:
      columns: { public.customers.email: partial }
    webhook_url: ${hook.url}`,
  });
  admin = new pg.Client({ connectionString: stack.shopAdminUrl });
  await admin.connect();
  await admin.query(`CREATE TABLE scratch (id int); INSERT INTO scratch VALUES (1); ALTER TABLE scratch OWNER TO ${stack.shopRole}`);
  alice = new User('alice', stack);
  bob = new User('bob', stack);
  dana = new User('dana', stack);
  for (const u of [alice, bob, dana]) expect((await u.login()).code).toBe(0);
  ({ port } = await alice.connect('shop'));
});

afterAll(async () => {
  await admin?.end();
  await alice?.stopAgent();
  await stack?.close();
  await hook?.close();
});

const exists = async (table: string, id: number): Promise<boolean> => (await admin.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id])).rowCount === 1;

/** Runs `sql` through the tunnel; resolves with the review id from the NOTICE, and the query's outcome. */
async function held(sql: string, values?: unknown[]): Promise<{ reviewId: string; result: Promise<pg.QueryResult | { error: { code?: string; routine?: string; message: string } }>; client: pg.Client }> {
  const c = tunnelClient(port);
  await c.connect();
  const notice = new Promise<string>((resolve) => c.on('notice', (n) => {
    const id = /Review ([0-9a-f-]{36})/.exec(n.message ?? '')?.[1];
    if (id) resolve(id);
  }));
  const result = c.query(sql, values).then((r) => r, (e: unknown) => ({ error: e as { code?: string; routine?: string; message: string } }));
  const reviewId = await Promise.race([notice, result.then(() => { throw new Error(`${sql} was not held`); })]);
  return { reviewId, result: result.finally(() => void c.end().catch(() => undefined)), client: c };
}

describe('statement approvals', () => {
  it('holds the statement, tells the client the review id, and runs it once the approver approves', async () => {
    expect(await exists('orders', 3)).toBe(true);
    const h = await held('DELETE FROM orders WHERE id = $1', [3]);
    expect(await exists('orders', 3)).toBe(true); // held: not run yet
    const list = JSON.parse((await bob.hoop(['reviews', '--pending', '--json'])).stdout) as { reviews: { id: string; statement: string; parameters: string[]; requester: string }[] };
    expect(list.reviews.find((r) => r.id === h.reviewId)).toMatchObject({ statement: 'DELETE FROM orders WHERE id = $1', parameters: ['3'], requester: 'alice' });
    const ok = await bob.hoop(['approve', h.reviewId, '--comment', 'refund INC-7']);
    expect(ok.code, ok.stderr).toBe(0);
    const r = await h.result;
    expect(r).toMatchObject({ command: 'DELETE', rowCount: 1 });
    expect(await exists('orders', 3)).toBe(false);
    await expect.poll(() => hook.received.filter((m) => m.hoop.review.id === h.reviewId).map((m) => m.hoop.event)).toEqual(['review.created', 'review.decided']);
  });

  it('refuses the statement when the approver rejects it, naming the review', async () => {
    const h = await held('DELETE FROM orders WHERE id = 5');
    expect((await bob.hoop(['reject', h.reviewId, '--comment', 'not this one'])).code).toBe(0);
    const r = await h.result;
    expect(r).toMatchObject({ error: { code: '42501', routine: 'hoop_approval_rejected' } });
    expect((r as { error: { message: string } }).error.message).toBe(`hoop: review ${h.reviewId} rejected the statement (bob: "not this one")`);
    expect(await exists('orders', 5)).toBe(true);
  });

  it('gives up when nobody decides in time', async () => {
    const h = await held('DELETE FROM scratch WHERE id = 1');
    const r = await h.result;
    expect(r).toMatchObject({ error: { code: '57014', routine: 'hoop_approval_timeout' } });
    expect((r as { error: { message: string } }).error.message).toContain(`review ${h.reviewId} was not decided in time`);
    expect(await exists('scratch', 1)).toBe(true);
    // and an expired review can no longer be approved
    const late = await bob.hoop(['approve', h.reviewId]);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/expired/);
  });

  it('refuses self-approval, and a statement that needs two approvers waits for the second', async () => {
    const h = await held(`UPDATE cards SET expires = '01/31' WHERE id = 1`);
    const self = await alice.hoop(['approve', h.reviewId]);
    expect(self.code).toBe(4);
    expect(self.stderr).toContain('you cannot decide your own review');
    const first = await bob.hoop(['approve', h.reviewId]);
    expect(first.stdout).toContain('Status: pending (1 of 2 approvals so far)');
    const again = await bob.hoop(['approve', h.reviewId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('you already decided');
    expect((await admin.query('SELECT expires FROM cards WHERE id = 1')).rows[0].expires).not.toBe('01/31');
    expect((await dana.hoop(['approve', h.reviewId])).code).toBe(0);
    expect(await h.result).toMatchObject({ command: 'UPDATE', rowCount: 1 });
    expect((await admin.query('SELECT expires FROM cards WHERE id = 1')).rows[0].expires).toBe('01/31');
  });

  it('tells psql users with a NOTICE and runs after approval', async () => {
    const url = `postgresql://alice@127.0.0.1:${port}/shop?sslmode=disable`;
    const child = spawn('psql', [url, '-X', '-c', 'DELETE FROM orders WHERE id = 6'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await expect.poll(() => /Review ([0-9a-f-]{36})/.exec(err)?.[1], { timeout: 15_000 }).toBeDefined();
    const id = /Review ([0-9a-f-]{36})/.exec(err)![1]!;
    expect(err).toContain(`NOTICE:  hoop: this statement needs approval (rule order-deletes). Review ${id} is waiting for dba`);
    expect(err).toContain('Waiting up to 2m…'); // the rule's timeout as written, not "2m 0s"
    expect((await bob.hoop(['approve', id])).code).toBe(0);
    expect(await closed).toBe(0);
    expect(out).toContain('DELETE 1');
  });

  it('lets an approval cover one execution only', async () => {
    // a named prepared statement, approved and run once, cannot be executed again with other parameters
    const c = tunnelClient(port);
    await c.connect();
    const notice = new Promise<string>((resolve) => c.on('notice', (n) => resolve(/Review ([0-9a-f-]{36})/.exec(n.message ?? '')?.[1] ?? '')));
    const first = c.query({ name: 'del', text: 'DELETE FROM orders WHERE id = $1', values: [12] });
    expect((await bob.hoop(['approve', await notice])).code).toBe(0);
    expect(await first).toMatchObject({ rowCount: 1 });
    const again = await c.query({ name: 'del', text: 'DELETE FROM orders WHERE id = $1', values: [13] }).then(() => null, (e: unknown) => e as { routine?: string; message: string });
    expect(again).toMatchObject({ routine: 'hoop_blocked' });
    expect(again!.message).toContain('covers one execution');
    expect(await exists('orders', 13)).toBe(true);
    // SQL-level PREPARE of a statement that needs approval is refused outright
    const prep = await c.query('PREPARE d AS DELETE FROM orders WHERE id = $1').then(() => null, (e: unknown) => e as { routine?: string; message: string });
    expect(prep).toMatchObject({ routine: 'hoop_blocked' });
    expect(prep!.message).toContain('run it directly instead of through PREPARE');
    // …and SQL EXECUTE of the driver's statement, which hoop approved for one execution, does not run it again
    for (const sql of ['EXECUTE del(13)', 'EXPLAIN ANALYZE EXECUTE del(13)']) {
      const viaSql = await c.query(sql).then(() => null, (e: unknown) => e as { routine?: string; message: string });
      expect(viaSql, sql).toMatchObject({ routine: 'hoop_blocked' });
      expect(viaSql!.message).toContain('EXECUTE runs a prepared statement whose text hoop cannot check here');
    }
    expect(await exists('orders', 13)).toBe(true);
    await c.end();
  });

  it('treats upserts and MERGE as the updates and deletes they are', async () => {
    const h = await held(`INSERT INTO cards (id, customer_id, card_number, expires) VALUES (1, 1, 'x', '01/30') ON CONFLICT (id) DO UPDATE SET expires = '02/30'`);
    expect((await bob.hoop(['reject', h.reviewId])).code).toBe(0);
    expect(await h.result).toMatchObject({ error: { routine: 'hoop_approval_rejected' } });
    const m = await held(`MERGE INTO orders o USING (SELECT 14 AS id) s ON o.id = s.id WHEN MATCHED THEN DELETE`);
    expect((await bob.hoop(['reject', m.reviewId])).code).toBe(0);
    expect(await m.result).toMatchObject({ error: { routine: 'hoop_approval_rejected' } });
    expect(await exists('orders', 14)).toBe(true);
  });

  it('does not run a held statement whose client went away', async () => {
    const h = await held('DELETE FROM orders WHERE id = 15');
    await h.client.end().catch(() => undefined); // the client disconnects while waiting
    await new Promise((r) => setTimeout(r, 300));
    await bob.hoop(['approve', h.reviewId]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await exists('orders', 15)).toBe(true);
  });

  it('lets the approver pick and decide pending reviews in the terminal (hoop approve with no id)', async () => {
    const first = await held('DELETE FROM orders WHERE id = 16');
    const second = await held('DELETE FROM orders WHERE id = 17');
    const term = hoopOnTerminal(['approve'], bob.env);
    try {
      await term.until(/Pending reviews you may decide/);
      await term.until(/DELETE FROM orders WHERE id = 16[\s\S]*DELETE FROM orders WHERE id = 17|DELETE FROM orders WHERE id = 17[\s\S]*DELETE FROM orders WHERE id = 16/);
      // Both are listed, the cursor on the first: move it to the one for id 17 if needed, and reject it with r.
      const screen = term.screen();
      if (screen.lastIndexOf('id = 17') > screen.lastIndexOf('id = 16')) term.type('\u001b[B');
      await term.until(/❯ alice on shop[^\n]*\n\s+DELETE FROM orders WHERE id = 17/);
      term.type('r');
      await term.until(new RegExp(`Rejected ${second.reviewId.slice(0, 8)} \\(alice on shop\\): now rejected`));
      expect(await second.result).toMatchObject({ error: { routine: 'hoop_approval_rejected' } });
      // The list shrinks to the other one, and the cursor follows it: approve it with a.
      await term.until(/❯ alice on shop[^\n]*\n\s+DELETE FROM orders WHERE id = 16/);
      term.type('a');
      await term.until(new RegExp(`Approved ${first.reviewId.slice(0, 8)} \\(alice on shop\\): now approved`));
      expect(await first.result).toMatchObject({ command: 'DELETE', rowCount: 1 });
      term.type('q');
      expect(await term.exited).toBe(0);
    } finally {
      term.child.kill('SIGKILL');
    }
    expect(await exists('orders', 16)).toBe(false);
    expect(await exists('orders', 17)).toBe(true);
  });

  it('lays the picker out 80 columns wide when the terminal reports 0 columns (script without stty cols)', async () => {
    const h = await held('DELETE FROM orders WHERE id = 18');
    // No COLUMNS or LINES either: the pseudo-terminal's own size, 0 x 0, is all there is to go by.
    const term = hoopOnTerminal(['approve'], { ...bob.env, COLUMNS: undefined, LINES: undefined });
    try {
      await term.until(/Pending reviews you may decide/);
      await term.until(/❯ alice on shop · [^\n]+\n\s+DELETE FROM orders WHERE id = 18\n/);
      term.type('r');
      await term.until(new RegExp(`Rejected ${h.reviewId.slice(0, 8)} \\(alice on shop\\): now rejected`));
      term.type('q');
      expect(await term.exited).toBe(0);
    } finally {
      term.child.kill('SIGKILL');
    }
    expect(await h.result).toMatchObject({ error: { routine: 'hoop_approval_rejected' } });
    expect(await exists('orders', 18)).toBe(true);
  });

  it('records the decision with the statement', async () => {
    const state = new pg.Client({ connectionString: stack.stateUrl });
    await state.connect();
    const rows = (await state.query(`SELECT text, decision, details FROM statements WHERE text LIKE 'DELETE FROM orders WHERE id = $1%' AND decision = 'approved'`)).rows;
    await state.end();
    expect(rows[0]).toMatchObject({ decision: 'approved', details: { rule: 'order-deletes', review_id: expect.any(String) } });
  });
});

describe('hoop exec and policy', () => {
  it('exits 5 for a blocked statement', async () => {
    const r = await alice.hoop(['exec', 'shop', '-i', 'DROP TABLE orders']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('error: hoop: DDL is blocked');
  });

  it('exits 6 with the review id, then runs exactly the approved statement once with --review', async () => {
    const sql = 'DELETE FROM orders WHERE id = 8';
    const pending = await alice.hoop(['exec', 'shop', '-i', sql]);
    expect(pending.code).toBe(6);
    const id = /review ([0-9a-f-]{36})/.exec(pending.stderr)?.[1];
    expect(id).toBeDefined();
    expect(pending.stderr).toContain(`hint: an approver runs \`hoop approve ${id}\`; then run it again with --review ${id}`);
    expect(await exists('orders', 8)).toBe(true);
    expect((await bob.hoop(['approve', id!])).code).toBe(0);
    // a different statement is not what was approved
    const other = await alice.hoop(['exec', 'shop', '--review', id!, '-i', 'DELETE FROM orders WHERE id = 9']);
    expect(other.code).toBe(4);
    expect(await exists('orders', 9)).toBe(true);
    const ran = await alice.hoop(['exec', 'shop', '--review', id!, '-i', sql]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toContain('DELETE 1');
    expect(await exists('orders', 8)).toBe(false);
    const twice = await alice.hoop(['exec', 'shop', '--review', id!, '-i', sql]);
    expect(twice.code).toBe(4);
  });

  it('shows an approver the statement as it was sent: terminal escapes in it cannot hide or rewrite it', async () => {
    // ESC [2K erases the line, ESC [1G goes back to its start, \r writes over it, U+202E reverses what follows.
    const sql = 'DELETE FROM orders WHERE id = 10 /* \u001b[2K\u001b[1G\r SELECT 1 \u202e */';
    const pending = await alice.hoop(['exec', 'shop', '-i', sql]);
    const id = /review ([0-9a-f-]{36})/.exec(pending.stderr)![1]!;
    for (const out of [(await bob.hoop(['reviews', '--pending'])).stdout, (await bob.hoop(['reject', id])).stdout]) {
      // (the one-line form turns the \r, which is whitespace, into a space)
      expect(out).toContain('DELETE FROM orders WHERE id = 10 /* \\x1b[2K\\x1b[1G SELECT 1 \\u202e */');
      for (const raw of ['\u001b', '\r', '\u202e']) expect(out).not.toContain(raw);
    }
    // JSON keeps the statement exactly (escaped as JSON), for scripts.
    const list = JSON.parse((await bob.hoop(['reviews', '--json'])).stdout) as { reviews: { id: string; statement: string }[] };
    expect(list.reviews.find((r) => r.id === id)?.statement).toBe(sql);
  });

  it('exits 7 when the review was rejected', async () => {
    const sql = 'DELETE FROM orders WHERE id = 10';
    const pending = await alice.hoop(['exec', 'shop', '-i', sql]);
    const id = /review ([0-9a-f-]{36})/.exec(pending.stderr)![1]!;
    expect((await bob.hoop(['reject', id])).code).toBe(0);
    const r = await alice.hoop(['exec', 'shop', '--review', id, '-i', sql]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`review ${id} rejected the statement`);
  });

  it('waits for the decision with --wait', async () => {
    const sql = 'DELETE FROM orders WHERE id = 11';
    const waiting = alice.hoop(['exec', 'shop', '--wait', '1m', '-i', sql]);
    let id: string | undefined;
    await expect.poll(async () => {
      const list = JSON.parse((await bob.hoop(['reviews', '--pending', '--json'])).stdout) as { reviews: { id: string; statement: string }[] };
      id = list.reviews.find((r) => r.statement === sql)?.id;
      return id;
    }, { timeout: 15_000 }).toBeDefined();
    expect((await bob.hoop(['approve', id!])).code).toBe(0);
    const r = await waiting;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Review ${id} is waiting for dba`);
    expect(await exists('orders', 11)).toBe(false);
  });

  it('returns a masked column masked in every format', async () => {
    const sql = 'SELECT id, email FROM customers WHERE id = 1';
    const csv = await alice.hoop(['exec', 'shop', '-i', sql]);
    const json = await alice.hoop(['exec', 'shop', '--format', 'json', '-i', sql]);
    const tbl = await alice.hoop(['exec', 'shop', '--format', 'table', '-i', sql]);
    const rawEmail = (await admin.query('SELECT email FROM customers WHERE id = 1')).rows[0].email as string;
    const masked = `${rawEmail[0]}***@example.com`;
    expect(csv.stdout).toBe(`id,email\n1,${masked}\n`);
    expect((JSON.parse(json.stdout) as { rows: unknown[][] }).rows).toEqual([[1, masked]]);
    expect(tbl.stdout).toContain(`  1 | ${masked}`);
    for (const r of [csv, json, tbl]) expect(r.stdout).not.toContain(rawEmail);
  });
});
