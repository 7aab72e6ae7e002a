import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AUDIT_LOCK_KEY, AuditLog } from '../../../gateway/audit/audit-log.js';
import { Checkpointer } from '../../../gateway/audit/checkpointer.js';
import { pruneOldPayloads, readCheckpoints, readPayload, readRecords } from '../../../gateway/audit/reader.js';
import { verifyStoredChain } from '../../../gateway/audit/verify-stored.js';
import { payloadDigest, type AuditRecord } from '../../../shared/audit/record.js';
import { verifyChain } from '../../../shared/audit/verify.js';
import { isHoopError } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/log.js';
import { pgAdminUrl } from '../../helpers/pg.js';
import { auditTestDb, steppingClock, type AuditTestDb } from './setup.js';

let t: AuditTestDb;
beforeAll(async () => {
  t = await auditTestDb('audit_log');
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await t.reset();
});

const SESSION = '6f1c1e0e-6c59-4f55-9a4e-0d6b3f0c1a2b';

async function all(): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of readRecords(t.db)) out.push(r);
  return out;
}
async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => undefined, (e: unknown) => e);
}

describe('AuditLog', () => {
  it('appends records that read back exactly as hashed, with payloads kept apart', async () => {
    const log = new AuditLog({ db: t.db, logger: silentLogger });
    const a = await log.append({ type: 'session.opened', actor: 'alice', session_id: SESSION.toUpperCase(), connection: 'shop', data: { client: 'psql', 'é': 1.5, z: [null, 'a\u0000b'] } });
    const rows = [{ id: 1, email: 'a***@example.com' }];
    const b = await log.append({ type: 'statement', actor: 'alice', session_id: SESSION, connection: 'shop', data: { text: 'select * from customers', rows: 1 }, payload: { rows } });
    expect([a.seq, b.seq]).toEqual([1, 2]);
    const [r1, r2] = await all();
    expect(r1).toMatchObject({ v: 1, seq: 1, type: 'session.opened', session_id: SESSION, hash: a.hash, data: { client: 'psql', 'é': 1.5, z: [null, 'a\u0000b'] } });
    expect(r1!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(r2!.data).toEqual({ text: 'select * from customers', rows: 1, payload_sha256: payloadDigest({ rows }) });
    expect(r2!.prev_hash).toBe(a.hash);
    expect(await readPayload(t.db, 2)).toEqual({ rows });
    expect(await readPayload(t.db, 1)).toBeUndefined();
    expect(verifyChain([r1!, r2!], [], [])).toMatchObject({ ok: true, lastSeq: 2, lastHash: b.hash });
    await log.close();
  });

  it('refuses a bad event alone, with `internal`, while its batch-mates commit', async () => {
    const log = new AuditLog({ db: t.db, logger: silentLogger });
    const results = await Promise.allSettled([
      log.append({ type: 'ok', actor: null, data: { n: 1 } }),
      log.append({ type: 'bad', actor: null, data: { when: new Date() } }),
      log.append({ type: 'bad', actor: null, data: { n: NaN } }),
      log.append({ type: 'bad', actor: null, session_id: 'not-a-uuid', data: {} }),
      log.append({ type: 'bad', actor: 'nul\u0000', data: {} }),
      log.append({ type: 'bad', actor: null, data: { payload_sha256: 'x' }, payload: [] }),
      log.append({ type: 'ok', actor: null, data: { n: 2 } }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'fulfilled']);
    for (const r of results) if (r.status === 'rejected') expect(isHoopError(r.reason) && r.reason.code).toBe('internal');
    expect((await all()).map((r) => r.data)).toEqual([{ n: 1 }, { n: 2 }]);
    await log.close();
  });

  it('keeps times non-decreasing along the chain even when a clock goes back', async () => {
    let ms = Date.UTC(2026, 0, 2, 12);
    const log = new AuditLog({ db: t.db, logger: silentLogger, now: () => new Date((ms -= 1000)) });
    for (let i = 0; i < 3; i++) await log.append({ type: 'x', actor: null, data: {} });
    const times = (await all()).map((r) => r.time);
    expect(times).toEqual([...times].sort());
    expect((await verifyStoredChain(t.db)).ok).toBe(true);
  });

  it('batches concurrent appends from two instances into one gap-free chain that verifies', async () => {
    const a = new AuditLog({ db: t.open(), logger: silentLogger, maxBatch: 64 });
    const b = new AuditLog({ db: t.open(), logger: silentLogger, synchronousCommit: false });
    const appender = async (i: number): Promise<number[]> => {
      const log = i % 2 === 0 ? a : b;
      const seqs: number[] = [];
      for (let n = 0; n < 200; n++) seqs.push((await log.append({ type: 'statement', actor: `u${i}`, session_id: SESSION, connection: 'shop', data: { i, n } })).seq);
      return seqs;
    };
    const per = await Promise.all(Array.from({ length: 8 }, (_, i) => appender(i)));
    for (const seqs of per) expect(seqs).toEqual([...seqs].sort((x, y) => x - y)); // each caller's order is kept
    expect(per.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 1600 }, (_, i) => i + 1));
    const transactions = await t.db.query<{ n: string }>('SELECT count(DISTINCT xmin::text)::text AS n FROM audit_log');
    expect(Number(transactions.rows[0]!.n)).toBeLessThan(1600); // group commit: fewer transactions than records
    await Promise.all([a.close(), b.close()]);
    expect(await verifyStoredChain(t.db)).toMatchObject({ ok: true, records: 1600, lastSeq: 1600 });
  });

  it('commits appends made in one tick in one transaction, and picks up a head another writer moved', async () => {
    const a = new AuditLog({ db: t.db, logger: silentLogger });
    await Promise.all([1, 2, 3].map((n) => a.append({ type: 'x', actor: null, data: { n } })));
    const xmins = await t.db.query<{ n: number }>('SELECT count(DISTINCT xmin::text)::int AS n FROM audit_log');
    expect(xmins.rows[0]!.n).toBe(1);
    const b = new AuditLog({ db: t.open(), logger: silentLogger });
    expect((await b.append({ type: 'x', actor: null, data: { n: 4 } })).seq).toBe(4);
    // a's remembered head (seq 3) is stale now: its next batch must re-read it, not fork the chain.
    expect((await a.append({ type: 'x', actor: null, data: { n: 5 } })).seq).toBe(5);
    await Promise.all([a.close(), b.close()]);
    expect(await verifyStoredChain(t.db)).toMatchObject({ ok: true, records: 5, lastSeq: 5 });
  });

  it('tells its observer the size of each committed batch and how long each record waited, and each failed batch', async () => {
    const committed: number[][] = [];
    const failed: number[] = [];
    const observer = { batchCommitted: (w: readonly number[]) => committed.push([...w]), batchFailed: (n: number) => failed.push(n) };
    const log = new AuditLog({ db: t.db, logger: silentLogger, observer });
    const before = performance.now();
    await Promise.all([1, 2, 3].map((n) => log.append({ type: 'x', actor: null, data: { n } })));
    const waited = performance.now() - before;
    expect(committed.map((w) => w.length)).toEqual([3]);
    for (const w of committed[0]!) {
      expect(w).toBeGreaterThan(0);
      expect(w).toBeLessThanOrEqual(waited);
    }
    await log.close();

    const down = { withClient: () => Promise.reject(new Error('connection refused')) } as unknown as typeof t.db;
    const broken = new AuditLog({ db: down, logger: silentLogger, observer });
    const results = await Promise.allSettled([broken.append({ type: 'x', actor: null, data: {} }), broken.append({ type: 'y', actor: null, data: {} })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(failed).toEqual([2]);
    expect(committed).toHaveLength(1);
  });

  it('fails closed with audit_unavailable when its database goes away', async () => {
    const db = t.open(1); // one connection, so its backend is known
    const log = new AuditLog({ db, logger: silentLogger });
    await log.append({ type: 'x', actor: null, data: {} });
    const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const admin = new pg.Client({ connectionString: pgAdminUrl() });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(t.fresh.name)} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await expect.poll(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount).toBe(0);
      const err = await errorOf(log.append({ type: 'x', actor: null, data: {} }));
      expect(isHoopError(err) && err.code).toBe('audit_unavailable');
      expect((err as Error).cause).toBeDefined();
    } finally {
      await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(t.fresh.name)} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await db.close();
    expect(isHoopError(await errorOf(log.append({ type: 'x', actor: null, data: {} })))).toBe(true);
    await log.close();
    const closed = await errorOf(log.append({ type: 'x', actor: null, data: {} }));
    expect(isHoopError(closed) && closed.code).toBe('audit_unavailable');
  });

  it('fails closed after its timeout when the store hangs, and goes on once it recovers', async () => {
    const log = new AuditLog({ db: t.db, logger: silentLogger, timeoutMs: 300 });
    const blocker = new pg.Client({ connectionString: t.fresh.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]); // another instance stuck mid-batch
    const stuck = log.append({ type: 'x', actor: null, data: { n: 1 } });
    // Appends of one tick share a batch: let the first one's batch start (and block on the lock) before the next.
    await new Promise((r) => setTimeout(r, 50));
    const queued = log.append({ type: 'x', actor: null, data: { n: 2 } });
    for (const p of [stuck, queued]) {
      const err = await errorOf(p);
      expect(isHoopError(err) && err.code).toBe('audit_unavailable');
    }
    await blocker.query('COMMIT');
    await blocker.end();
    expect((await log.append({ type: 'x', actor: null, data: { n: 3 } })).seq).toBeGreaterThan(0);
    await log.close();
    // The batch in flight at the timeout may still have committed (recorded but reported failed: the safe side);
    // the one still queued was never written.
    expect((await all()).map((r) => r.data.n)).not.toContain(2);
    expect((await verifyStoredChain(t.db)).ok).toBe(true);
  });

  it('waits for the chain lock in its one-round-trip append too (the head it wrote is known)', async () => {
    const log = new AuditLog({ db: t.db, logger: silentLogger, timeoutMs: 300 });
    await log.append({ type: 'x', actor: null, data: { n: 1 } }); // now the head is known: the next batch is one call
    const blocker = new pg.Client({ connectionString: t.fresh.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
    const err = await errorOf(log.append({ type: 'x', actor: null, data: { n: 2 } }));
    expect(isHoopError(err) && err.code).toBe('audit_unavailable');
    await blocker.query('COMMIT');
    await blocker.end();
    expect((await log.append({ type: 'x', actor: null, data: { n: 3 } })).seq).toBeGreaterThan(1);
    await log.close();
    expect((await verifyStoredChain(t.db)).ok).toBe(true);
  });

  it('keeps payload digests verifiable after retention prunes the payloads', async () => {
    const clock = steppingClock();
    const log = new AuditLog({ db: t.db, logger: silentLogger, now: clock.now });
    for (let i = 0; i < 10; i++) await log.append({ type: 'statement', actor: 'alice', data: { i }, payload: { rows: [[i, `row ${i}`]] } });
    await log.close();
    expect(await pruneOldPayloads(t.db, clock.at(6))).toBe(6);
    expect(await readPayload(t.db, 6)).toBeUndefined();
    expect(await readPayload(t.db, 7)).toEqual({ rows: [[6, 'row 6']] });
    expect((await t.db.query('SELECT count(*)::int AS n FROM audit_log')).rows[0]).toEqual({ n: 10 });
    expect(await verifyStoredChain(t.db)).toMatchObject({ ok: true, records: 10 });
    const r7 = (await all())[6]!;
    expect(r7.data.payload_sha256).toBe(payloadDigest(await readPayload(t.db, 7)));
  });
});

describe('Checkpointer', () => {
  it('signs every N records, on a timer when the head moved, and at shutdown', async () => {
    const checkpointer = new Checkpointer({ db: t.db, key: t.key, logger: silentLogger, everyRecords: 50, everyMs: 0 });
    const log = new AuditLog({ db: t.db, logger: silentLogger, checkpointer });
    for (let i = 0; i < 120; i++) await log.append({ type: 'x', actor: null, data: { i } });
    await expect.poll(async () => (await readCheckpoints(t.db)).length).toBeGreaterThanOrEqual(2);
    await log.append({ type: 'x', actor: null, data: { last: true } });
    await log.close(); // final checkpoint at the head
    const cps = await readCheckpoints(t.db);
    expect(cps[cps.length - 1]).toMatchObject({ seq: 121, kid: t.key.kid });
    expect(await checkpointer.checkpoint()).toBeNull(); // the head has not moved
    expect(await verifyStoredChain(t.db, { publicKeys: [t.key.publicJwk] })).toMatchObject({ ok: true, checkpoints: cps.length });

    const timed = new Checkpointer({ db: t.db, key: t.key, logger: silentLogger, everyRecords: 1e9, everyMs: 50 });
    timed.start();
    const log2 = new AuditLog({ db: t.db, logger: silentLogger });
    await log2.append({ type: 'x', actor: null, data: {} });
    await expect.poll(async () => (await readCheckpoints(t.db)).at(-1)?.seq, { timeout: 5000 }).toBe(122);
    await timed.close();
    await log2.close();
  });

  it('stores one checkpoint when two instances sign the same head', async () => {
    const log = new AuditLog({ db: t.db, logger: silentLogger });
    await log.append({ type: 'x', actor: null, data: {} });
    const c1 = new Checkpointer({ db: t.open(), key: t.key, logger: silentLogger, everyMs: 0 });
    const c2 = new Checkpointer({ db: t.open(), key: t.key, logger: silentLogger, everyMs: 0 });
    const made = await Promise.all([c1.checkpoint(), c2.checkpoint()]);
    expect(made.filter((c) => c !== null).length).toBeGreaterThanOrEqual(1);
    expect(await readCheckpoints(t.db)).toHaveLength(1);
    await log.close();
  });
});
