import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.js';
import { Checkpointer } from '../../../gateway/audit/checkpointer.js';
import { readCheckpoints, readPublicKeys, readRecords } from '../../../gateway/audit/reader.js';
import { verifyStoredChain } from '../../../gateway/audit/verify-stored.js';
import { hashRecord, type AuditRecord } from '../../../shared/audit/record.js';
import { verifyChain, type VerifyResult } from '../../../shared/audit/verify.js';
import { silentLogger } from '../../../shared/log.js';
import { auditTestDb, type AuditTestDb } from './setup.js';

let t: AuditTestDb;
beforeAll(async () => {
  t = await auditTestDb('audit_tamper');
});
afterAll(async () => {
  await t.close();
});

/** 40 records with a signed checkpoint at 30. */
beforeEach(async () => {
  await t.reset();
  const log = new AuditLog({ db: t.db, logger: silentLogger });
  const checkpointer = new Checkpointer({ db: t.db, key: t.key, logger: silentLogger, everyMs: 0 });
  const append = (i: number): Promise<unknown> => log.append({
    type: i % 4 === 0 ? 'session.opened' : 'statement',
    actor: 'alice',
    session_id: '6F1C1E0E-6C59-4F55-9A4E-0D6B3F0C1A2B',
    connection: 'shop',
    data: { text: `SELECT ${i}`, params: [i, 'x'], decision: 'allow', ms: i / 3 },
  });
  for (let i = 1; i <= 30; i++) await append(i);
  expect(await checkpointer.checkpoint()).toMatchObject({ seq: 30 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => append(31 + i)));
  await log.close();
});

async function verifyDirect(): Promise<VerifyResult> {
  const records: AuditRecord[] = [];
  for await (const r of readRecords(t.db, { pageSize: 7 })) records.push(r);
  const result = verifyChain(records, await readCheckpoints(t.db), await readPublicKeys(t.db));
  // The streaming path agrees (it stops reading once the damage is named, so it may count fewer records).
  const { records: _a, ...streamed } = await verifyStoredChain(t.db);
  const { records: _b, ...batch } = result;
  expect(streamed).toEqual(batch);
  return result;
}
const verdict = (r: VerifyResult): unknown => (r.ok ? 'ok' : { kind: r.kind, position: r.position });
const hashOf = async (seq: number): Promise<string> => (await t.db.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = $1', [seq])).rows[0]!.hash;

describe('the stored chain', () => {
  it('verifies when intact', async () => {
    expect(await verifyDirect()).toMatchObject({ ok: true, records: 40, checkpoints: 1, lastSeq: 40 });
  });

  it('edited: a record\'s data changed with SQL', async () => {
    await t.db.query(`UPDATE audit_log SET data = '{"decision":"allow","text":"SELECT 1"}' WHERE seq = 7`);
    expect(verdict(await verifyDirect())).toEqual({ kind: 'edited', position: 7 });
  });

  it('edited: data rewritten with the same meaning is not an edit, another meaning is', async () => {
    // Storage is the canonical text; a reformatting with equal JSON value hashes the same.
    await t.db.query(`UPDATE audit_log SET data = (data::jsonb)::text WHERE seq = 8`);
    expect((await verifyDirect()).ok).toBe(true);
    await t.db.query(`UPDATE audit_log SET data = replace(data, '"allow"', '"block"') WHERE seq = 8`);
    expect(verdict(await verifyDirect())).toEqual({ kind: 'edited', position: 8 });
  });

  it('edited: a microsecond of time, or the actor', async () => {
    await t.db.query(`UPDATE audit_log SET time = time + interval '1 microsecond' WHERE seq = 9`);
    expect(verdict(await verifyDirect())).toEqual({ kind: 'edited', position: 9 });
    await t.db.query(`UPDATE audit_log SET time = time - interval '1 microsecond' WHERE seq = 9`);
    await t.db.query(`UPDATE audit_log SET actor = 'bob' WHERE seq = 3`);
    expect(verdict(await verifyDirect())).toEqual({ kind: 'edited', position: 3 });
  });

  it('deleted: a middle record', async () => {
    await t.db.query('DELETE FROM audit_log WHERE seq = 12');
    expect(verdict(await verifyDirect())).toEqual({ kind: 'deleted', position: 12 });
  });

  it('inserted: a carefully forged record, the rest renumbered to make room', async () => {
    // Two steps, because the primary key is checked row by row.
    await t.db.query('UPDATE audit_log SET seq = seq + 1000000 WHERE seq > 15');
    await t.db.query('UPDATE audit_log SET seq = seq - 1000000 + 1 WHERE seq > 1000000');
    const base = {
      v: 1 as const, seq: 16, time: '2026-01-02T00:00:00.000000Z', type: 'statement', actor: 'alice', session_id: null, connection: 'shop',
      data: { text: 'SELECT 1', decision: 'allow' }, prev_hash: await hashOf(15),
    };
    await t.db.query(
      `INSERT INTO audit_log (seq, time, type, actor, session_id, connection, data, prev_hash, hash) VALUES (16, $1, $2, $3, NULL, $4, $5, $6, $7)`,
      [base.time, base.type, base.actor, base.connection, JSON.stringify(base.data), base.prev_hash, hashRecord(base)],
    );
    expect(verdict(await verifyDirect())).toEqual({ kind: 'inserted', position: 16 });
  });

  it('inserted: a record appended after the end that does not link', async () => {
    await t.db.query(
      `INSERT INTO audit_log (seq, time, type, actor, data, prev_hash, hash) VALUES (41, now(), 'statement', 'mallory', '{}', $1, $1)`,
      ['ab'.repeat(32)],
    );
    expect(verdict(await verifyDirect())).toEqual({ kind: 'inserted', position: 41 });
  });

  it('reordered: two records\' seq values swapped', async () => {
    await t.db.query('UPDATE audit_log SET seq = CASE seq WHEN 10 THEN 1000013 ELSE 1000010 END WHERE seq IN (10, 13)');
    await t.db.query('UPDATE audit_log SET seq = seq - 1000000 WHERE seq > 1000000');
    expect(verdict(await verifyDirect())).toEqual({ kind: 'reordered', position: 10 });
  });

  it('truncated: the tail deleted back past a checkpoint', async () => {
    await t.db.query('DELETE FROM audit_log WHERE seq > 25');
    expect(verdict(await verifyDirect())).toEqual({ kind: 'truncated', position: 26 });
  });

  it('bad_checkpoint: a checkpoint re-pointed at another hash', async () => {
    await t.db.query('UPDATE audit_checkpoints SET hash = $1 WHERE seq = 30', [await hashOf(29)]);
    expect(verdict(await verifyDirect())).toEqual({ kind: 'bad_checkpoint', position: 30 });
  });
});
