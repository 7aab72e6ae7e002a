/**
 * Evidence an auditor can trust, end to end: a session with a masked SELECT, a blocked DROP and a DELETE
 * approved by bob replays from the audit chain; `hoop audit verify` passes on an intact log and names the
 * position and kind of every tampering done directly in PostgreSQL; an exported bundle verifies offline and
 * fails after one changed byte; pruning returned data keeps the chain verifiable; and when the audit store is
 * gone, the next statement is refused and nothing reaches the target.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { canonicalize } from '../../shared/audit/canonical.js';
import { auditTime, hashRecord } from '../../shared/audit/record.js';

let stack: Stack;
let alice: User;
let bob: User;
/** An auditor and nothing else: she approves nothing, so every review she reads she reads through the role. */
let carol: User;
let port: number;
let state: pg.Client;
let sessionId: string;

beforeAll(async () => {
  stack = await startStack({
    extraUsers: [{ username: 'carol', password: 'carol', groups: ['auditors'] }],
    // Checkpoints only when an export asks: none may be signed while a test has tampered with the log.
    topExtra: 'audit: { checkpoint_every: 1000000, checkpoint_interval: 1h, returned_rows: 3 }',
    shopExtra: `
    guardrails: { block: [ddl] }
    approvals:
      - name: order-deletes
        match: { statements: [delete], tables: [public.orders] }
        approvers: [dba]
    masking:
      columns: { public.customers.email: partial }`,
  });
  alice = new User('alice', stack);
  bob = new User('bob', stack);
  expect((await alice.login()).code).toBe(0);
  expect((await bob.login()).code).toBe(0);
  carol = new User('carol', stack);
  expect((await carol.login()).code).toBe(0);
  ({ port } = await alice.connect('shop'));
  state = new pg.Client({ connectionString: stack.stateUrl });
  await state.connect();

  // The session to replay: a masked SELECT, a blocked DROP, a DELETE approved by bob.
  const c = tunnelClient(port, { application_name: 'evidence' });
  await c.connect();
  await c.query('SELECT id, email FROM customers ORDER BY id LIMIT 5');
  await c.query('DROP TABLE orders').catch(() => undefined);
  const notice = new Promise<string>((resolve) => c.on('notice', (n) => resolve(/Review ([0-9a-f-]{36})/.exec(n.message ?? '')?.[1] ?? '')));
  const del = c.query('DELETE FROM orders WHERE id = 1');
  expect((await bob.hoop(['approve', await notice])).code).toBe(0);
  await del;
  await c.end();
  for (let i = 0; i < 100 && !sessionId; i++) {
    const r = await state.query(`SELECT id FROM sessions WHERE client_application = 'evidence' AND ended_at IS NOT NULL`);
    sessionId = r.rows[0]?.id as string;
    if (!sessionId) await new Promise((res) => setTimeout(res, 100));
  }
  expect(sessionId).toBeDefined();
  // An export signs a checkpoint at the head first.
  expect((await bob.hoop(['audit', 'export', '--out', join(stack.tmp, 'first-export')])).code).toBe(0);
});

afterAll(async () => {
  await state?.end();
  await alice?.stopAgent();
  await stack?.close();
});

async function verify(u: User = bob, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return u.hoop(['audit', 'verify', ...extra]);
}

describe('counts in the verify summary', () => {
  it('says "1 signed checkpoint" for one, online and offline', async () => {
    // Runs first: only the export in beforeAll has signed a checkpoint so far.
    const r = await verify();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^audit log OK: \d+ records \(seq 1–\d+\), 1 signed checkpoint verified\n/);
    expect(r.stdout).not.toMatch(/\b1 (records|later records are)\b/); // the records after the checkpoint, if one
    const offline = new User('auditor', stack);
    const b = await offline.hoop(['audit', 'verify', '--bundle', join(stack.tmp, 'first-export')], { env: { HOOP_GATEWAY_URL: 'http://127.0.0.1:9' } });
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.stdout).toMatch(/^chain OK: \d+ records, 1 signed checkpoint, last seq \d+\n/);
  });
});

describe('replay', () => {
  it('replays the session with its masked rows, the block and the approval', async () => {
    const r = await bob.hoop(['sessions', 'replay', sessionId]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('[ran] SELECT id, email FROM customers ORDER BY id LIMIT 5');
    expect(r.stdout).toContain('masked: email (public.customers.email, 5)');
    expect(r.stdout).toMatch(/\s[a-z]\*\*\*@example\.com/);
    expect(r.stdout).not.toMatch(/[a-z]{2,}\.[a-z-]+\d+@example\.com/); // no raw email anywhere
    expect(r.stdout).toContain('… 2 more rows (kept: 3)');
    expect(r.stdout).toContain('[BLOCK] DROP TABLE orders');
    expect(r.stdout).toContain('rule ddl');
    expect(r.stdout).toContain('[approved by bob] DELETE FROM orders WHERE id = 1');
    expect(r.stdout).toContain('DELETE 1');
    // Each statement's outcome right under it, though the chain holds the DROP's after the DELETE's record.
    const lines = r.stdout.split('\n');
    const drop = lines.findIndex((l) => l.includes('[BLOCK] DROP TABLE orders'));
    expect(lines.slice(drop + 1, drop + 3).join('\n')).toMatch(/rule ddl[^\n]*\n\s+→ ERROR 42501: hoop: DDL is blocked/);
    const del = lines.findIndex((l) => l.includes('DELETE FROM orders WHERE id = 1'));
    expect(lines.slice(del + 1, del + 3).join('\n')).toMatch(/rule order-deletes[^\n]*\n\s+→ DELETE 1 in [\d.]+ ms/);
    const one = JSON.parse((await bob.hoop(['sessions', 'replay', sessionId, '--json', '--rows', '1'])).stdout) as { events: { payload?: { rows: unknown[] } }[] };
    expect(one.events.filter((e) => e.payload).map((e) => e.payload!.rows.length)).toEqual([1]);
    expect((await bob.hoop(['sessions', 'replay', sessionId, '--rows', 'many'])).code).toBe(2);
    const json = JSON.parse((await bob.hoop(['sessions', 'replay', sessionId, '--json'])).stdout) as { events: { type: string; data: { decision?: string }; approvers?: string[]; payload?: { rows: string[][] } }[] };
    expect(json.events.map((e) => e.type)).toEqual(expect.arrayContaining(['session.opened', 'statement', 'statement.result', 'session.closed']));
    expect(json.events.find((e) => e.data.decision === 'approved')?.approvers).toEqual(['bob']);
  });

  it('filters sessions by decision and text', async () => {
    const blocked = JSON.parse((await bob.hoop(['sessions', '--decision', 'blocked', '--json'])).stdout) as { sessions: { id: string }[] };
    expect(blocked.sessions.map((s) => s.id)).toContain(sessionId);
    const masked = JSON.parse((await bob.hoop(['sessions', '--decision', 'masked', '--json'])).stdout) as { sessions: { id: string }[] };
    expect(masked.sessions.map((s) => s.id)).toContain(sessionId);
    const none = JSON.parse((await bob.hoop(['sessions', '--text', 'no statement says this', '--json'])).stdout) as { sessions: unknown[] };
    expect(none.sessions).toEqual([]);
    expect((await bob.hoop(['sessions', '--connection', 'nosuch'])).stdout).toBe('No sessions match.\n');
  });

  it('refuses a bad limit or filter with a clear error, in the CLI and at the API', async () => {
    for (const limit of ['abc', '0', '-1', '1.5', '5000']) {
      const r = await bob.hoop(['sessions', '--limit', limit]);
      expect(r.code, limit).toBe(2);
      expect(r.stderr).toContain(`--limit ${limit} is not a whole number from 1 to 1000`);
    }
    const token = await bob.accessToken();
    for (const query of ['limit=abc', 'limit=0', 'user=%00']) {
      const res = await fetch(`${stack.gatewayUrl}/v1/sessions?${query}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('usage');
    }
  });

  it('keeps the log for auditors: others may not read it, and reads are recorded', async () => {
    const r = await alice.hoop(['audit', 'verify']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('reading the audit log needs the auditor or admin role');
    expect((await bob.hoop(['sessions', 'replay', sessionId])).code).toBe(0);
    const reads = await state.query(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'audit.read' AND actor = 'bob'`);
    expect(reads.rows[0].n).toBeGreaterThan(0);
  });
});

describe('reading the evidence is recorded', () => {
  const reads = async (what: string): Promise<number> =>
    (await state.query(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'audit.read' AND actor = 'bob' AND data::jsonb->>'what' = $1`, [what])).rows[0].n as number;
  const page = async (query: string): Promise<{ status: number; body: { next_from_seq: number | null; continuation?: string | null } }> => {
    const res = await fetch(`${stack.gatewayUrl}/v1/audit/records?${query}`, { headers: { authorization: `Bearer ${await bob.accessToken()}` } });
    return { status: res.status, body: (await res.json()) as { next_from_seq: number | null; continuation?: string | null } };
  };

  it('records the first page of a read, and later pages only without the continuation the gateway issued', async () => {
    let n = await reads('records');
    const first = await page('from_seq=1&limit=2');
    expect(first.status).toBe(200);
    expect(await reads('records')).toBe(++n); // the first page, with or without a page flag
    expect((await page('from_seq=1&limit=2&page=1')).status).toBe(200);
    expect(await reads('records')).toBe(++n);
    const next = first.body.next_from_seq!;
    const cont = first.body.continuation!;
    expect(cont).toEqual(expect.any(String));
    // the next page with its continuation: the same read, not recorded again; and it gives the one after
    const second = await page(`from_seq=${next}&limit=2&continuation=${encodeURIComponent(cont)}`);
    expect(second.status).toBe(200);
    expect(second.body.continuation).toEqual(expect.any(String));
    expect(await reads('records')).toBe(n);
    // a page flag alone, a continuation for another seq, an edited one, or someone else's: each a recorded read
    expect((await page(`from_seq=${next}&limit=2&page=1`)).status).toBe(200);
    expect((await page(`from_seq=${next + 1}&limit=2&continuation=${encodeURIComponent(cont)}`)).status).toBe(200);
    expect((await page(`from_seq=${next}&limit=2&continuation=${encodeURIComponent(cont.slice(0, -2) + (cont.endsWith('AA') ? 'BB' : 'AA'))}`)).status).toBe(200);
    expect(await reads('records')).toBe(n + 3);
  });

  it('records one read per `hoop audit verify`', async () => {
    const n = await reads('records');
    const r = await verify();
    expect(r.code, r.stderr).toBe(0);
    expect(await reads('records')).toBe(n + 1);
  });

  it('records an admin\'s or auditor\'s reading of someone else\'s session detail, not of their own', async () => {
    const n = await reads('session');
    const get = async (u: User): Promise<number> =>
      (await fetch(`${stack.gatewayUrl}/v1/sessions/${sessionId}`, { headers: { authorization: `Bearer ${await u.accessToken()}` } })).status;
    expect(await get(bob)).toBe(200); // alice's session
    expect(await reads('session')).toBe(n + 1);
    const rec = await state.query(`SELECT data FROM audit_log WHERE type = 'audit.read' AND actor = 'bob' ORDER BY seq DESC LIMIT 1`);
    expect(JSON.parse(rec.rows[0].data as string)).toMatchObject({ what: 'session', session_id: sessionId, subject: 'alice' });
    expect(await get(alice)).toBe(200); // her own
    const mine = await state.query(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'audit.read' AND actor = 'alice'`);
    expect(mine.rows[0].n).toBe(0);
  });

  it('records an admin\'s or auditor\'s list of everyone\'s sessions, not anyone\'s list of their own', async () => {
    const n = await reads('sessions');
    const all = await bob.hoop(['sessions', '--text', 'orders', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(await reads('sessions')).toBe(n + 1);
    const rec = await state.query(`SELECT data FROM audit_log WHERE type = 'audit.read' AND actor = 'bob' ORDER BY seq DESC LIMIT 1`);
    expect(JSON.parse(rec.rows[0].data as string)).toMatchObject({ what: 'sessions', filter: { text: 'orders' }, subjects: ['alice'] });
    expect((await bob.hoop(['sessions', '--user', 'bob'])).code).toBe(0); // his own
    expect((await alice.hoop(['sessions'])).code).toBe(0); // hers: everyone else sees only their own
    expect(await reads('sessions')).toBe(n + 1);
    const mine = await state.query(`SELECT count(*)::int AS n FROM audit_log WHERE type = 'audit.read' AND actor = 'alice'`);
    expect(mine.rows[0].n).toBe(0);
  });

  it('records an admin\'s list of everyone\'s grants, once while it does not change, and not a list of one\'s own', async () => {
    const n = await reads('grants');
    const all = await bob.hoop(['grants', '--all', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(await reads('grants')).toBe(n + 1);
    const rec = await state.query(`SELECT data FROM audit_log WHERE type = 'audit.read' AND actor = 'bob' ORDER BY seq DESC LIMIT 1`);
    expect(JSON.parse(rec.rows[0].data as string)).toMatchObject({ what: 'grants', subjects: ['alice'] });
    expect((await bob.hoop(['grants', '--all', '--json'])).code).toBe(0); // the same answer again: covered by the first record
    expect((await bob.hoop(['grants', '--json'])).code).toBe(0); // his own
    expect(await reads('grants')).toBe(n + 1);
  });

  it('records reviews read only through the auditor role, not by their approvers', async () => {
    const byCarol = async (): Promise<{ what: string; requesters?: string[] }[]> =>
      (await state.query(`SELECT data FROM audit_log WHERE type = 'audit.read' AND actor = 'carol' ORDER BY seq`)).rows.map((r) => JSON.parse(r.data as string) as { what: string });
    const list = await carol.hoop(['reviews', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const reviews = (JSON.parse(list.stdout) as { reviews: { id: string; requester: string }[] }).reviews;
    expect(reviews.map((r) => r.requester)).toContain('alice');
    expect(await byCarol()).toEqual([expect.objectContaining({ what: 'reviews', requesters: ['alice'] })]);
    const get = await fetch(`${stack.gatewayUrl}/v1/reviews/${reviews[0]!.id}`, { headers: { authorization: `Bearer ${await carol.accessToken()}` } });
    expect(get.status).toBe(200);
    expect((await byCarol()).at(-1)).toMatchObject({ what: 'review', review_id: reviews[0]!.id });
    // bob is one of the approvers (dba): his reading of the same reviews is his job, not a privileged read
    const before = await reads('reviews');
    expect((await bob.hoop(['reviews', '--json'])).code).toBe(0);
    expect(await reads('reviews')).toBe(before);
    expect(before).toBe(0);
  });

  it('checks who asks for an export before reading what they sent, and refuses a malformed request (400)', async () => {
    const post = async (body: unknown, token?: string): Promise<{ status: number; code: string }> => {
      const res = await fetch(`${stack.gatewayUrl}/v1/audit/export`, {
        method: 'POST', body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      return { status: res.status, code: ((await res.json()) as { code: string }).code };
    };
    const exports = await reads('export');
    expect(await post({ since: 5 })).toEqual({ status: 401, code: 'login_required' });
    expect(await post({ since: 5 }, await alice.accessToken())).toEqual({ status: 403, code: 'access_denied' });
    for (const body of [{ since: 5 }, { until: { a: 1 } }, [1], null, { since: 'whenever' }]) {
      expect(await post(body, await bob.accessToken()), JSON.stringify(body)).toEqual({ status: 400, code: 'usage' });
    }
    expect(await reads('export')).toBe(exports); // nothing was exported
  });
});

describe('export', () => {
  it('writes a bundle that verifies offline, and fails after one changed byte', async () => {
    const dir = join(await mkdtemp(join(stack.tmp, 'bundle-')), 'out');
    const r = await bob.hoop(['audit', 'export', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    // offline: a user with no gateway at all
    const offline = new User('auditor', stack);
    const ok = await offline.hoop(['audit', 'verify', '--bundle', dir], { env: { HOOP_GATEWAY_URL: 'http://127.0.0.1:9' } });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('chain OK');
    expect(ok.stdout).toContain('manifest signature verifies');
    const json = JSON.parse((await offline.hoop(['audit', 'verify', '--bundle', dir, '--json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ ok: true, valid: true, manifest_ok: true, last_seq: expect.any(Number) as number });
    expect(json).not.toHaveProperty('lastSeq');
    // A directory with no bundle in it is said to be so, never "chain OK" over nothing.
    for (const where of [join(stack.tmp, 'no-such-dir'), stack.tmp]) {
      const none = await offline.hoop(['audit', 'verify', '--bundle', where]);
      expect(none.code).toBe(1);
      expect(none.stdout).toBe('');
      expect(none.stderr).toMatch(/no evidence bundle (at|in) .*(no such directory|it has no manifest\.json)/);
    }
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('hoop audit verify --bundle');
    for (const file of ['records.jsonl', 'statements.csv']) {
      const path = join(dir, file);
      const original = await readFile(path);
      const changed = Buffer.from(original);
      const at = Math.floor(changed.length / 2);
      changed[at] = changed[at]! ^ 0x01;
      await writeFile(path, changed);
      const bad = await offline.hoop(['audit', 'verify', '--bundle', dir]);
      expect(bad.code, `${file} changed`).toBe(1);
      expect(bad.stdout).toMatch(/BROKEN/);
      await writeFile(path, original);
    }
  });
});

describe('whose key signed a bundle', () => {
  it('prints the signing key\'s thumbprint, which `hoop audit keys` shows and saves for --keys', async () => {
    const dir = join(await mkdtemp(join(stack.tmp, 'bundle-')), 'out');
    const exported = await bob.hoop(['audit', 'export', '--out', dir, '--json']);
    expect(exported.code).toBe(0);
    const written = JSON.parse(exported.stdout) as { out: string; files: string[]; range: { last_seq: number }; signed_by: string };
    expect(written).toMatchObject({ out: dir, files: expect.arrayContaining(['manifest.json', 'records.jsonl']) as string[] });
    expect(written.range.last_seq).toBeGreaterThan(0);
    const keysFile = join(stack.tmp, `gateway-keys-${Date.now()}.json`);
    const keys = await bob.hoop(['audit', 'keys', '--out', keysFile]);
    expect(keys.code, keys.stderr).toBe(0);
    const thumbprint = /thumbprint (\S+)/.exec(keys.stdout)?.[1];
    expect(thumbprint).toMatch(/^[\w-]{43}$/);
    expect(keys.stdout).toContain(`to ${keysFile}`);
    const again = await bob.hoop(['audit', 'keys', '--out', keysFile]);
    expect(again.code).toBe(2); // never over a file
    expect(again.stderr).toContain('already exists');

    const offline = new User('auditor', stack);
    const env = { HOOP_GATEWAY_URL: 'http://127.0.0.1:9' };
    const own = await offline.hoop(['audit', 'verify', '--bundle', dir], { env });
    expect(own.code).toBe(0);
    expect(own.stdout).toContain(`(SHA-256 thumbprint ${thumbprint!}), from the bundle's own public-keys.json`);
    expect(own.stdout).toContain('not that your gateway wrote it');
    const pinned = await offline.hoop(['audit', 'verify', '--bundle', dir, '--keys', keysFile, '--json'], { env });
    expect(pinned.code).toBe(0);
    expect(JSON.parse(pinned.stdout)).toMatchObject({ valid: true, keys: 'pinned', signed_by: { kid: written.signed_by, thumbprint } });
  });
});

describe('export refuses to write over anything', () => {
  it('into a directory that is not empty, or onto a file: exit 2, before asking the gateway, and nothing changed', async () => {
    const dir = await mkdtemp(join(stack.tmp, 'notes-'));
    await writeFile(join(dir, 'README.md'), 'my notes\n');
    const r = await bob.hoop(['audit', 'export', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--out ${dir} is not empty (1 entry)`);
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toBe('my notes\n');
    const file = join(dir, 'README.md');
    const f = await bob.hoop(['audit', 'export', '--out', file]);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain(`--out ${file} is a file, not a directory`);
  });
});

describe('retention', () => {
  it('prunes returned data and still verifies', async () => {
    const before = await state.query('SELECT count(*)::int AS n FROM audit_payloads');
    expect(before.rows[0].n).toBeGreaterThan(0);
    const { pruneOldPayloads } = await import('../../gateway/audit/reader.js');
    const n = await pruneOldPayloads(state, new Date(Date.now() + 60_000));
    expect(n).toBe(before.rows[0].n);
    expect((await verify()).code).toBe(0);
    const replay = await bob.hoop(['sessions', 'replay', sessionId]);
    expect(replay.stdout).toContain('returned data no longer kept');
  });

});

describe('verification', () => {
  it('passes on an intact log, with signed checkpoints', async () => {
    const r = await verify();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^audit log OK: \d+ records \(seq 1–\d+\), (?:1 signed checkpoint|(?!1 )[1-9]\d* signed checkpoints) verified/);
    const json = JSON.parse((await verify(bob, ['--json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ ok: true, first_seq: 1, last_seq: expect.any(Number) as number, last_checkpoint: { seq: expect.any(Number) as number } });
    expect(json).not.toHaveProperty('lastSeq');
  });

  it('a --since after the last record is an empty range, not a log cut short', async () => {
    const r = await verify(bob, ['--since', '2099-01-01T00:00:00Z']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^audit log OK: no records since 2099-01-01T00:00:00Z/);
    expect(JSON.parse((await verify(bob, ['--since', '2099-01-01T00:00:00Z', '--json'])).stdout)).toMatchObject({ ok: true, records: 0 });
  });

  /** Runs `tamper`, expects verify to name `kind` at the seq `position` returns, then undoes it. */
  async function expectDamage(kind: string, tamper: () => Promise<number>, undo: (() => Promise<void>) | null): Promise<void> {
    const position = await tamper();
    try {
      const r = await verify(bob, ['--json']);
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as { ok: boolean; kind: string; position: number };
      expect(out).toMatchObject({ ok: false, kind, position });
      const text = await verify();
      expect(text.stdout).toContain(`audit log BROKEN at seq ${position}: ${kind}`);
    } finally {
      await undo?.();
    }
    if (undo) expect((await verify()).code).toBe(0);
  }

  const pick = async (): Promise<{ seq: number; row: Record<string, unknown> }> => {
    const r = await state.query(`SELECT * FROM audit_log WHERE type = 'statement' AND seq > 3 ORDER BY seq LIMIT 1`);
    return { seq: Number(r.rows[0].seq), row: r.rows[0] as Record<string, unknown> };
  };

  it('names an edited record', async () => {
    const { seq, row } = await pick();
    await expectDamage('edited',
      async () => {
        await state.query(`UPDATE audit_log SET actor = 'mallory' WHERE seq = $1`, [seq]);
        return seq;
      },
      async () => void (await state.query(`UPDATE audit_log SET actor = $2 WHERE seq = $1`, [seq, row.actor])));
  });

  it('names a deleted record', async () => {
    const { seq, row } = await pick();
    await expectDamage('deleted',
      async () => {
        await state.query('DELETE FROM audit_log WHERE seq = $1', [seq]);
        return seq;
      },
      async () => void (await state.query(
        'INSERT INTO audit_log (seq, v, time, type, actor, session_id, connection, data, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)',
        [row.seq, row.v, row.time, row.type, row.actor, row.session_id, row.connection, row.data, row.prev_hash, row.hash],
      )));
  });

  /** Runs statements in one transaction, rolling back on error (so a failure cannot poison later tests). */
  async function tx(...sql: [string, unknown[]?][]): Promise<void> {
    await state.query('BEGIN');
    try {
      for (const [q, p] of sql) await state.query(q, p);
      await state.query('COMMIT');
    } catch (e) {
      await state.query('ROLLBACK');
      throw e;
    }
  }
  const FAR = 1_000_000_000; // seq > 0 is a constraint: park rows far away instead of negating them

  it('names reordered records', async () => {
    // two neighbours without returned-data payloads (payloads reference their record)
    const r = await state.query(
      `SELECT a.seq FROM audit_log a JOIN audit_log b ON b.seq = a.seq + 1
        WHERE a.seq > 3 AND NOT EXISTS (SELECT 1 FROM audit_payloads p WHERE p.seq IN (a.seq, b.seq)) ORDER BY a.seq LIMIT 1`,
    );
    const seq = Number(r.rows[0].seq);
    const swap = (): Promise<void> => tx(
      ['UPDATE audit_log SET seq = $2 WHERE seq = $1', [seq, FAR]],
      ['UPDATE audit_log SET seq = $1 WHERE seq = $2', [seq, seq + 1]],
      ['UPDATE audit_log SET seq = $1 WHERE seq = $2', [seq + 1, FAR]],
    );
    await expectDamage('reordered', async () => {
      await swap();
      return seq;
    }, swap);
  });

  // Destructive from here on: these cannot be undone (records appended meanwhile are hashed with their seq).
  it('names the truncation of records covered by a signed checkpoint', async () => {
    // sign a checkpoint at the head, then cut the log back before it
    expect((await bob.hoop(['audit', 'export', '--out', join(stack.tmp, 'before-truncation')])).code).toBe(0);
    const head = Number((await state.query('SELECT max(seq) AS s FROM audit_log')).rows[0].s);
    const cut = head - 3;
    await state.query('DELETE FROM audit_payloads WHERE seq >= $1', [cut]);
    await state.query('DELETE FROM audit_log WHERE seq >= $1', [cut]);
    const r = await verify(bob, ['--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, kind: 'truncated' });
  });

  it('names an inserted record', async () => {
    const { seq, row } = await pick();
    // make room at `seq` by renumbering everything after it, payloads along
    const shift = (by: number, from: number): Promise<void> => tx(
      ['ALTER TABLE audit_payloads DROP CONSTRAINT audit_payloads_seq_fkey'],
      ['UPDATE audit_log SET seq = seq + $2 WHERE seq >= $1', [from, FAR]],
      ['UPDATE audit_payloads SET seq = seq + $2 WHERE seq >= $1', [from, FAR]],
      ['UPDATE audit_log SET seq = seq - $2 + $1 WHERE seq >= $2', [by, FAR]],
      ['UPDATE audit_payloads SET seq = seq - $2 + $1 WHERE seq >= $2', [by, FAR]],
      ['ALTER TABLE audit_payloads ADD CONSTRAINT audit_payloads_seq_fkey FOREIGN KEY (seq) REFERENCES audit_log (seq)'],
    );
    await expectDamage('inserted',
      async () => {
        await shift(1, seq);
        // a forged record in the gap, linked to its predecessor with a correctly computed hash, as a forger would
        const forged = { v: 1 as const, seq, time: auditTime(new Date(row.time as Date)), type: 'statement', actor: 'mallory',
          session_id: row.session_id as string | null, connection: row.connection as string | null,
          data: { seq: 99, text: 'SELECT 1', parameters: null, protocol: 'simple', decision: 'allow' }, prev_hash: row.prev_hash as string };
        await state.query(
          `INSERT INTO audit_log (seq, v, time, type, actor, session_id, connection, data, prev_hash, hash) VALUES ($1,1,$2,$3,$4,$5,$6,$7,$8,$9)`,
          [seq, row.time, forged.type, forged.actor, forged.session_id, forged.connection, canonicalize(forged.data), forged.prev_hash, hashRecord(forged)],
        );
        return seq;
      },
      null);
  });
});

describe('failure', () => {
  it('refuses the next statement when the audit store is unavailable, and nothing reaches the target', async () => {
    const c = tunnelClient(port);
    await c.connect();
    expect((await c.query('SELECT 1 AS before')).rows).toEqual([{ before: 1 }]);
    const admin = new pg.Client({ connectionString: stack.shopAdminUrl });
    await admin.connect();
    await admin.query('CREATE TABLE IF NOT EXISTS canary (id int)');
    await admin.query(`ALTER TABLE canary OWNER TO ${stack.shopRole}`);
    const stateDb = new URL(stack.stateUrl).pathname.slice(1);
    state.on('error', () => undefined); // this test ends the state database's connections, this one's too
    await admin.query(`ALTER DATABASE ${stateDb} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [stateDb]);
    try {
      const e = await c.query('INSERT INTO canary VALUES (1)').then(() => null, (x: unknown) => x as { code?: string; message: string; routine?: string });
      expect(e).toMatchObject({ code: '58000', routine: 'hoop_audit_unavailable' });
      expect(e!.message).toBe('hoop: the statement was not run because the audit store could not record it');
      expect((await admin.query('SELECT count(*)::int AS n FROM canary')).rows[0].n).toBe(0);
    } finally {
      await admin.query(`ALTER DATABASE ${stateDb} ALLOW_CONNECTIONS true`);
      await c.end().catch(() => undefined);
      await admin.end();
    }
    // state is reconnected after (the log reattaches to its database)
    state = new pg.Client({ connectionString: stack.stateUrl });
    await state.connect();
  });
});
