import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../gateway/audit/audit-log.js';
import { Checkpointer } from '../../../gateway/audit/checkpointer.js';
import { exportBundle } from '../../../gateway/audit/export.js';
import { readPublicKeys, readRecords } from '../../../gateway/audit/reader.js';
import { verifyBundle } from '../../../shared/audit/bundle.js';
import { silentLogger } from '../../../shared/log.js';
import { auditTestDb, steppingClock, type AuditTestDb } from './setup.js';

let t: AuditTestDb;
const clock = steppingClock();
const dirs: string[] = [];
beforeAll(async () => {
  t = await auditTestDb('audit_export');
  // 60 records one second apart (the clock is called once per batch), checkpoints at 20, 30 and 50.
  const log = new AuditLog({ db: t.db, logger: silentLogger, now: clock.now });
  const checkpointer = new Checkpointer({ db: t.db, key: t.key, logger: silentLogger, everyMs: 0 });
  for (let i = 1; i <= 60; i++) {
    await log.append({ type: 'statement', actor: 'alice', connection: 'shop', data: { text: `SELECT ${i}` }, payload: { rows: [[i]] } });
    if ([20, 30, 50].includes(i)) await checkpointer.checkpoint();
  }
  await log.close();
});
afterAll(async () => {
  await t.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function outDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'hoop-export-'));
  dirs.push(d);
  return join(d, 'bundle');
}

describe('exportBundle', () => {
  it('exports a range starting in the middle, with its anchor and checkpoints, which verifies offline', async () => {
    const dir = await outDir();
    // Record n was stamped by clock call n-1.
    const manifest = await exportBundle(t.db, await readPublicKeys(t.db), {
      since: clock.at(20), until: clock.at(40), outDir: dir, gatewayUrl: 'https://hoop.example.com', signingKey: t.key,
      sessions: [{ id: 's1', subject: 'alice' }], statements: [{ session_id: 's1', seq: 1, text: 'SELECT 21' }],
    });
    const first = (await readRecords(t.db, { fromSeq: 20, toSeq: 20 }).next()).value;
    expect(manifest).toMatchObject({
      range: { since: clock.at(20).toISOString(), until: clock.at(40).toISOString(), first_seq: 21, last_seq: 40 },
      anchor: { seq: 20, hash: first?.hash },
      signature: { kid: t.key.kid },
    });
    const cps = JSON.parse(await readFile(join(dir, 'checkpoints.json'), 'utf8')) as { seq: number }[];
    expect(cps.map((c) => c.seq)).toEqual([20, 30]);
    expect(await verifyBundle(dir, { publicKeys: [t.key.publicJwk] })).toMatchObject({
      ok: true, valid: true, manifest_signed: true, records: 20, checkpoints: 2, lastSeq: 40, problems: [],
    });
    expect(await readFile(join(dir, 'statements.csv'), 'utf8')).toBe('session_id,seq,text\r\ns1,1,SELECT 21\r\n');

    const records = await readFile(join(dir, 'records.jsonl'), 'utf8');
    await writeFile(join(dir, 'records.jsonl'), records.replace('SELECT 33', 'SELECT 34'));
    expect(await verifyBundle(dir)).toMatchObject({ ok: false, kind: 'edited', position: 33, valid: false, manifest_ok: false });
  });

  it('exports everything, and an empty range', async () => {
    const dir = await outDir();
    await exportBundle(t.db, await readPublicKeys(t.db), { outDir: dir, gatewayUrl: 'https://hoop.example.com', signingKey: t.key });
    expect(await verifyBundle(dir, { publicKeys: await readPublicKeys(t.db) })).toMatchObject({ valid: true, records: 60, checkpoints: 3, manifest_signed: true, keys: 'pinned' });
    const empty = await outDir();
    const m = await exportBundle(t.db, [t.key.publicJwk], { since: clock.at(1000), outDir: empty, gatewayUrl: 'x', signingKey: t.key });
    expect(m.range).toMatchObject({ first_seq: null, last_seq: null });
    expect(await verifyBundle(empty)).toMatchObject({ valid: true, records: 0 });
  });
});
