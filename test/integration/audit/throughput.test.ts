/**
 * Prints the audit log's append throughput (no assertion on timing): 1 and 8 concurrent sessions, with
 * synchronous_commit on and off. Set HOOP_AUDIT_BENCH_MS for longer runs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { measureAppendThroughput } from '../../../gateway/audit/bench.js';
import { auditTestDb, type AuditTestDb } from './setup.js';

let t: AuditTestDb;
beforeAll(async () => {
  t = await auditTestDb('audit_bench');
});
afterAll(async () => {
  await t.close();
});

it('measures append throughput', async () => {
  const durationMs = Number(process.env.HOOP_AUDIT_BENCH_MS ?? 500);
  const lines: string[] = [];
  for (const synchronousCommit of [true, false]) {
    for (const sessions of [1, 8]) {
      const perSecond = await measureAppendThroughput(t.open(8), { sessions, durationMs, synchronousCommit });
      expect(perSecond).toBeGreaterThan(0);
      lines.push(`audit append: ${sessions} session(s), synchronous_commit ${synchronousCommit ? 'on ' : 'off'}: ${Math.round(perSecond)} records/s`);
    }
  }
  console.log(lines.join('\n'));
}, 120_000);
