import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChainVerifier, verifyChain, type VerifyResult } from '../../../../shared/audit/verify.js';
import { hashRecord, signCheckpoint, type AuditRecord, type Checkpoint } from '../../../../shared/audit/record.js';
import { buildChain, checkpointAt, clone, rehash, testKey } from './chain-fixture.js';

const key = testKey();
const N = 40;
const chain = buildChain(N);
const cps = [10, 20, 30, 40].map((s) => checkpointAt(chain, s, key));
const h = (seq: number): string => chain[seq - 1]!.hash;

/** A forged record, hashed properly at `seq` unless `badHash`. */
function forged(seq: number, prev: string, badHash = false): AuditRecord {
  const base = { v: 1 as const, seq, time: chain[seq - 2]?.time ?? chain[0]!.time, type: 'statement', actor: 'mallory', session_id: null, connection: 'shop', data: { text: 'forged' }, prev_hash: prev };
  return { ...base, hash: badHash ? 'f'.repeat(64) : hashRecord(base) };
}
/** Moves records to other seqs without rehashing (what UPDATE … SET seq does). */
const renumber = (rs: AuditRecord[], from: number, delta: number): AuditRecord[] => rs.map((r) => (r.seq >= from ? { ...r, seq: r.seq + delta } : r));
const without = (rs: AuditRecord[], ...seqs: number[]): AuditRecord[] => rs.filter((r) => !seqs.includes(r.seq));
const insertAfter = (rs: AuditRecord[], afterIndex: number, r: AuditRecord): AuditRecord[] => [...rs.slice(0, afterIndex), r, ...rs.slice(afterIndex)];
function swapSeqs(rs: AuditRecord[], a: number, b: number): AuditRecord[] {
  const moved = rs.map((r) => (r.seq === a ? { ...r, seq: b } : r.seq === b ? { ...r, seq: a } : r));
  return moved.sort((x, y) => x.seq - y.seq); // read back ORDER BY seq
}
function swapLines(rs: AuditRecord[], i: number, j: number): AuditRecord[] {
  const out = [...rs];
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}
function edit(rs: AuditRecord[], seq: number, recompute: boolean): AuditRecord[] {
  return rs.map((r) => {
    if (r.seq !== seq) return r;
    const changed = { ...clone(r), data: { ...r.data, text: 'DROP TABLE evidence' } };
    return recompute ? rehash(changed) : changed;
  });
}

interface Case {
  name: string;
  records: AuditRecord[];
  checkpoints?: Checkpoint[];
  expected: { kind: string; position: number };
}

const regrown = [...chain.slice(0, 35), ...buildChain(5, 36, h(35)).map((r) => rehash({ ...r, data: { rewritten: true } }))];
// buildChain links by the original hashes; relink the regrown tail properly.
for (let i = 35; i < regrown.length; i++) regrown[i] = rehash({ ...regrown[i]!, prev_hash: regrown[i - 1]!.hash });

const cases: Case[] = [
  { name: 'edited content', records: edit(chain, 7, false), expected: { kind: 'edited', position: 7 } },
  { name: 'edited content, hash recomputed', records: edit(chain, 7, true), expected: { kind: 'edited', position: 7 } },
  { name: 'edited a checkpointed record, hash recomputed', records: edit(chain, 10, true), expected: { kind: 'edited', position: 10 } },
  { name: 'edited the first record', records: edit(chain, 1, false), expected: { kind: 'edited', position: 1 } },
  { name: 'edited the last record', records: edit(chain, 40, false), expected: { kind: 'edited', position: 40 } },
  { name: 'edited prev_hash', records: chain.map((r) => (r.seq === 7 ? { ...r, prev_hash: '1'.repeat(64) } : r)), expected: { kind: 'edited', position: 7 } },
  { name: 'edited seq, hash recomputed', records: chain.map((r) => (r.seq === 7 ? rehash({ ...r, seq: 9 }) : r)), expected: { kind: 'edited', position: 7 } },
  { name: 'unreadable record', records: chain.map((r) => (r.seq === 7 ? ({} as AuditRecord) : r)), expected: { kind: 'edited', position: 7 } },
  { name: 'deleted a middle record', records: without(chain, 7), expected: { kind: 'deleted', position: 7 } },
  { name: 'deleted three records', records: without(chain, 7, 8, 9), expected: { kind: 'deleted', position: 7 } },
  { name: 'deleted the first record', records: without(chain, 1), expected: { kind: 'deleted', position: 1 } },
  { name: 'deleted and renumbered down', records: renumber(without(chain, 7), 8, -1), expected: { kind: 'deleted', position: 7 } },
  { name: 'deleted two and renumbered down', records: renumber(without(chain, 7, 8), 9, -2), expected: { kind: 'deleted', position: 7 } },
  { name: 'inserted with a duplicate seq, not linking', records: insertAfter(chain, 7, forged(8, '2'.repeat(64))), expected: { kind: 'inserted', position: 8 } },
  { name: 'inserted with a duplicate seq, linking, before the genuine one', records: insertAfter(chain, 7, forged(8, h(7))), expected: { kind: 'inserted', position: 8 } },
  { name: 'inserted with a duplicate seq, linking, after the genuine one', records: insertAfter(chain, 8, forged(8, h(7))), expected: { kind: 'inserted', position: 8 } },
  { name: 'inserted and renumbered up, forged carefully', records: insertAfter(renumber(chain, 8, 1), 7, forged(8, h(7))), expected: { kind: 'inserted', position: 8 } },
  { name: 'inserted and renumbered up, forged naively', records: insertAfter(renumber(chain, 8, 1), 7, forged(8, '3'.repeat(64), true)), expected: { kind: 'inserted', position: 8 } },
  { name: 'inserted two and renumbered up', records: insertAfter(insertAfter(renumber(chain, 8, 2), 7, forged(8, h(7))), 8, forged(9, forged(8, h(7)).hash)), expected: { kind: 'inserted', position: 8 } },
  { name: 'inserted a copy of a record', records: insertAfter(chain, 7, chain[6]!), expected: { kind: 'inserted', position: 7 } },
  { name: 'inserted after the end, not linking', records: [...chain, forged(41, '4'.repeat(64))], expected: { kind: 'inserted', position: 41 } },
  { name: 'reordered: seqs of 10 and 13 swapped', records: swapSeqs(chain, 10, 13), expected: { kind: 'reordered', position: 10 } },
  { name: 'reordered: seqs of 10 and 11 swapped', records: swapSeqs(chain, 10, 11), expected: { kind: 'reordered', position: 10 } },
  { name: 'reordered: lines of 10 and 11 swapped', records: swapLines(chain, 9, 10), expected: { kind: 'reordered', position: 10 } },
  { name: 'reordered: lines of 10 and 20 swapped', records: swapLines(chain, 9, 19), expected: { kind: 'reordered', position: 10 } },
  { name: 'reordered: the last two lines swapped', records: swapLines(chain, 38, 39), expected: { kind: 'reordered', position: 39 } },
  { name: 'reordered: a record moved down', records: insertAfter(without(chain, 5), 9, chain[4]!), expected: { kind: 'reordered', position: 5 } },
  { name: 'truncated: tail deleted', records: chain.slice(0, 35), expected: { kind: 'truncated', position: 36 } },
  { name: 'truncated: everything deleted', records: [], expected: { kind: 'truncated', position: 1 } },
  { name: 'truncated: tail deleted and regrown', records: regrown, expected: { kind: 'truncated', position: 40 } },
  {
    name: 'bad checkpoint: signature altered',
    records: chain,
    checkpoints: cps.map((c) => (c.seq === 20 ? { ...c, hash: h(19) } : c)),
    expected: { kind: 'bad_checkpoint', position: 20 },
  },
  { name: 'bad checkpoint: unknown kid', records: chain, checkpoints: [...cps, { ...cps[0]!, kid: 'nope' }], expected: { kind: 'bad_checkpoint', position: 10 } },
  {
    name: 'bad checkpoint: signed by another key under our kid',
    records: chain,
    checkpoints: [signCheckpoint({ seq: 30, hash: h(30), time: cps[2]!.time }, testKey().privateKey, key.kid)],
    expected: { kind: 'bad_checkpoint', position: 30 },
  },
];

const failure = (r: VerifyResult): { kind: string; position: number } | 'ok' => (r.ok ? 'ok' : { kind: r.kind, position: r.position });

describe('verifyChain', () => {
  it('passes an intact chain and counts its checkpoints', () => {
    expect(verifyChain(chain, cps, [key.publicJwk])).toEqual({ ok: true, records: N, checkpoints: 4, lastSeq: N, lastHash: h(N) });
    expect(verifyChain([], [], [key.publicJwk])).toMatchObject({ ok: true, records: 0, lastSeq: 0 });
  });

  it.each(cases.map((c) => [c.name, c] as const))('names the damage: %s', (_name, c) => {
    const result = verifyChain(c.records, c.checkpoints ?? cps, [key.publicJwk]);
    expect(failure(result)).toEqual(c.expected);
    expect(result.ok ? '' : result.detail).not.toBe('');
  });

  it('verifies a range from an anchor, and refuses a wrong anchor', () => {
    const range = chain.slice(20);
    expect(verifyChain(range, cps, [key.publicJwk], { anchor: { seq: 20, hash: h(20) } })).toMatchObject({ ok: true, records: 20, checkpoints: 3, lastSeq: 40 });
    expect(failure(verifyChain(range, cps, [key.publicJwk], { anchor: { seq: 20, hash: h(19) } }))).toEqual({ kind: 'edited', position: 20 });
    expect(failure(verifyChain(range, [], [key.publicJwk], { anchor: { seq: 20, hash: h(19) } }))).toEqual({ kind: 'edited', position: 21 });
    expect(verifyChain(range, cps, [key.publicJwk], { fromSeq: 21 })).toMatchObject({ ok: true, checkpoints: 2 });
    expect(failure(verifyChain(range.slice(1), cps, [key.publicJwk], { fromSeq: 21 }))).toEqual({ kind: 'deleted', position: 21 });
  });
});

describe('ChainVerifier (streaming)', () => {
  it('gives the batch verdict whether checkpoints come first or last', () => {
    for (const c of [...cases, { name: 'intact', records: chain, expected: { kind: '', position: 0 } }]) {
      const batch = verifyChain(c.records, c.checkpoints ?? cps, [key.publicJwk]);
      const upFront = new ChainVerifier({ publicKeys: [key.publicJwk], checkpoints: c.checkpoints ?? cps });
      const late = new ChainVerifier({ publicKeys: [key.publicJwk] });
      for (const r of c.records) {
        upFront.push(r);
        late.push(r);
      }
      expect(upFront.finish(), c.name).toEqual(batch);
      // Late checkpoints give the same verdict; the wording of `detail` may differ.
      const { detail: _a, ...lateVerdict } = { detail: '', ...late.finish(c.checkpoints ?? cps) };
      const { detail: _b, ...batchVerdict } = { detail: '', ...batch };
      expect(lateVerdict, c.name).toEqual(batchVerdict);
    }
  });

  it('settles once the damage is named, with bounded look-ahead', () => {
    const v = new ChainVerifier({ publicKeys: [key.publicJwk], checkpoints: cps, window: 4 });
    for (const r of without(chain, 7)) {
      v.push(r);
      if (v.settled) break;
    }
    expect(v.settled).toBe(true);
    expect(v.finish()).toMatchObject({ ok: false, kind: 'deleted', position: 7, records: 11 });
  });

  it('handles a long chain without holding it (checkpoints up front)', () => {
    let prev = chain[N - 1]!;
    const v = new ChainVerifier({ publicKeys: [key.publicJwk], checkpoints: cps });
    for (const r of chain) v.push(r);
    for (let seq = N + 1; seq <= 20_000; seq++) {
      const base = { ...prev, seq, prev_hash: prev.hash, data: { n: seq } };
      prev = rehash(base);
      v.push(prev);
    }
    expect(v.finish()).toMatchObject({ ok: true, records: 20_000, lastSeq: 20_000 });
  });
});

describe('classification (property)', () => {
  const setup = (n: number): { rs: AuditRecord[] } => ({ rs: buildChain(n) });

  it('names an edit of any record', () => {
    fc.assert(fc.property(fc.integer({ min: 3, max: 60 }), fc.nat(), fc.boolean(), (n, k, recompute) => {
      const { rs } = setup(n);
      // With its hash recomputed, the last record is indistinguishable from a genuine one, and the one before it
      // from a genuine record followed by a forged, appended one (reported as inserted): see classify.ts.
      const seq = (k % (recompute ? n - 2 : n)) + 1;
      expect(failure(verifyChain(edit(rs, seq, recompute), [], [key.publicJwk]))).toEqual({ kind: 'edited', position: seq });
    }), { numRuns: 150 });
  });

  it('names a deletion of any record but the last, with or without renumbering', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 60 }), fc.nat(), fc.boolean(), (n, k, shift) => {
      const { rs } = setup(n);
      const seq = (k % (n - 1)) + 1;
      const tampered = shift ? renumber(without(rs, seq), seq + 1, -1) : without(rs, seq);
      expect(failure(verifyChain(tampered, [], [key.publicJwk]))).toEqual({ kind: 'deleted', position: seq });
    }), { numRuns: 150 });
  });

  it('names two records swapped up to 8 apart', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 60 }), fc.nat(), fc.integer({ min: 1, max: 8 }), fc.boolean(), (n, k, d, byLine) => {
      const { rs } = setup(n);
      const a = (k % (n - 1)) + 1;
      const b = Math.min(n, a + d);
      const tampered = byLine ? swapLines(rs, a - 1, b - 1) : swapSeqs(rs, a, b);
      expect(failure(verifyChain(tampered, [], [key.publicJwk]))).toEqual({ kind: 'reordered', position: a });
    }), { numRuns: 150 });
  });

  it('names a forged record inserted anywhere before the end', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 60 }), fc.nat(), fc.boolean(), fc.boolean(), (n, k, careful, shift) => {
      const { rs } = setup(n);
      const after = (k % (n - 1)) + 1; // insert between `after` and `after + 1`
      const x = careful ? rehash({ ...rs[after - 1]!, seq: after + 1, prev_hash: rs[after - 1]!.hash, data: { forged: true } }) : { ...rs[after - 1]!, seq: after + 1, data: { forged: true } };
      const tampered = insertAfter(shift ? renumber(rs, after + 1, 1) : rs, after, x);
      expect(failure(verifyChain(tampered, [], [key.publicJwk]))).toEqual({ kind: 'inserted', position: after + 1 });
    }), { numRuns: 150 });
  });
});
