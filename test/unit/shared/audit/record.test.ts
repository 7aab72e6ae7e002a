import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  auditTime, canonicalRecordText, checkpointProblem, GENESIS_HASH, hashRecord, hashRecordAtSeqs, hashRecordWithDataText,
  keysByKid, payloadDigest, signCheckpoint,
} from '../../../../shared/audit/record.js';
import { canonicalize } from '../../../../shared/audit/canonical.js';
import { buildChain, testKey } from './chain-fixture.js';

const record = {
  v: 1 as const,
  seq: 1,
  time: '2026-01-02T03:04:05.123000Z',
  type: 'grant.issued',
  actor: 'alice',
  session_id: null,
  connection: 'shop',
  data: { grant_id: 'g1', ttl_s: 3600, groups: ['engineers'] },
  prev_hash: GENESIS_HASH,
};

describe('hashRecord', () => {
  it('hashes the canonical text of the record without hash, as written by hand', () => {
    const byHand = `{"actor":"alice","connection":"shop","data":{"grant_id":"g1","groups":["engineers"],"ttl_s":3600},"prev_hash":"${GENESIS_HASH}","seq":1,"session_id":null,"time":"2026-01-02T03:04:05.123000Z","type":"grant.issued","v":1}`;
    expect(canonicalRecordText(record)).toBe(byHand);
    expect(hashRecord(record)).toBe(createHash('sha256').update(byHand).digest('hex'));
  });

  it('is stable: a pinned vector, independent of key order and of extra members such as hash', () => {
    expect(hashRecord(record)).toBe('94288c3c91a0be318834d1b9d8895a0474edd3c81d8849b0d2b5b545354d6230');
    const shuffled = { hash: 'x', data: { groups: ['engineers'], ttl_s: 3600, grant_id: 'g1' }, prev_hash: GENESIS_HASH, seq: 1, v: 1 as const, type: 'grant.issued', time: record.time, session_id: null, connection: 'shop', actor: 'alice' };
    expect(hashRecord(shuffled)).toBe(hashRecord(record));
  });

  it('changes with any field', () => {
    const base = hashRecord(record);
    for (const change of [{ seq: 2 }, { time: '2026-01-02T03:04:05.123001Z' }, { type: 'grant.denied' }, { actor: null }, { session_id: 'x' }, { connection: null }, { data: { ...record.data, ttl_s: 3601 } }, { prev_hash: '1'.repeat(64) }]) {
      expect(hashRecord({ ...record, ...change })).not.toBe(base);
    }
  });

  it('agrees with the fast paths the writer and the verifier use', () => {
    for (const r of buildChain(5)) {
      const { data, ...rest } = r;
      expect(hashRecordWithDataText(rest, canonicalize(data))).toBe(r.hash);
      const at = hashRecordAtSeqs(r, [r.seq, r.seq + 1, 99]);
      expect(at.get(r.seq)).toBe(r.hash);
      expect(at.get(99)).toBe(hashRecord({ ...r, seq: 99 }));
    }
    expect(payloadDigest({ b: 1, a: [2] })).toBe(createHash('sha256').update('{"a":[2],"b":1}').digest('hex'));
  });

  it('writes the record member by member exactly as canonicalize writes the whole object (property)', () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('"data":{}', '\\"', '\u2028', 'é😀'));
    const nullable = fc.option(text, { nil: null });
    const records = fc.record({
      v: fc.constant(1 as const), seq: fc.nat(), time: text, type: text, actor: nullable, session_id: nullable, connection: nullable,
      data: fc.dictionary(text, fc.jsonValue()), prev_hash: text,
    });
    fc.assert(fc.property(records, (r) => {
      const whole = canonicalize({ ...r });
      expect(canonicalRecordText(r)).toBe(whole);
      const { data, ...rest } = r;
      expect(hashRecordWithDataText(rest, canonicalize(data))).toBe(createHash('sha256').update(whole, 'utf8').digest('hex'));
    }), { numRuns: 500 });
  });

  it('formats time with six fractional digits', () => {
    expect(auditTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 7)))).toBe('2026-01-02T03:04:05.007000Z');
  });
});

describe('checkpoints', () => {
  it('sign over canonical {hash, seq, time} and verify by kid', () => {
    const key = testKey();
    const keys = keysByKid([key.publicJwk]);
    const cp = signCheckpoint({ seq: 7, hash: 'ab'.repeat(32), time: '2026-01-02T03:04:05.000000Z' }, key.privateKey, key.kid);
    expect(checkpointProblem(cp, keys)).toBeNull();
    expect(checkpointProblem({ ...cp, seq: 8 }, keys)).toMatch(/signature/);
    expect(checkpointProblem({ ...cp, sig: cp.sig.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, keys)).toMatch(/signature/);
    expect(checkpointProblem({ ...cp, kid: 'other' }, keys)).toMatch(/no public key/);
    const { kid: _kid, ...noKid } = key.publicJwk;
    expect(checkpointProblem(cp, keysByKid([noKid]))).toBeNull(); // known by its thumbprint
  });
});
