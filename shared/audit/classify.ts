/**
 * Naming the damage in an audit chain. The verifier hands over the first record that does not fit (the one
 * whose seq, prev_hash or own hash is not what the chain expects), the records read after it (a bounded
 * window), and the last records it accepted. This module decides, from those alone, what most plausibly
 * happened and at which seq.
 *
 * Two facts make the guess good in practice:
 * - `seq` is inside the hashed text, so a record moved to another seq keeps a hash that still verifies under
 *   its old seq. Trying the nearby seqs recovers where it came from (its "true seq").
 * - `prev_hash` names the record before it, so a window shows which records point at which.
 *
 * The rules, first match wins (E is the seq the chain expects next, P the hash it expects in prev_hash):
 *
 * 1. **edited**: the last accepted record has another hash than its signed checkpoint and the next record
 *    neither links to it nor is the record the checkpoint names (content changed, hash recomputed).
 *    Position: that record.
 * 2. **inserted**: the record's seq is at or below one already accepted (a duplicate seq or a copy).
 *    Position: that seq. When the newcomer is the one the following record links to, the earlier one is named.
 * 3. **reordered**: the record's prev_hash is the hash of a record that comes *later* in stored order.
 *    Position: E.
 * 4. **deleted**: a seq gap (the record's seq is above E). Position: E, the first missing seq.
 * 5. **inserted**: taking the record out makes the rest of the window a valid chain from P ("removing it
 *    restores the chain"). Position: E. Not candidates: the last record read when it links to P (an edit,
 *    rule 9), a record a signed checkpoint vouches for, and a lone genuine record moved from another seq.
 * 6. **reordered**: the record is genuine (its hash verifies under some seq) and the record that belongs at E
 *    (true seq E, prev_hash P) appears later in the window. Position: E.
 * 7. **inserted**: the record verifies only under a lower seq whose predecessor it links to, which is
 *    accepted: records were inserted and the rest renumbered up. Position: the first inserted seq.
 * 8. **deleted**: the record verifies only under a higher seq (the rest renumbered down over a gap), or its
 *    prev_hash is the hash a checkpoint names for a seq not present. Position: E.
 * 9. **edited**: the record's content no longer matches its own hash under any nearby seq. Position: E.
 * 10. **edited**: the record verifies at E but does not link to P. If the record after it links to it, or a
 *    checkpoint vouches for it, the previous record is the one that changed (its hash was recomputed):
 *    position E-1. Otherwise position E.
 *
 * One case stays ambiguous without a checkpoint: the last record not linking to the one before it reads as a
 * forged, appended record (rule 5), though the one before may have been edited with its hash recomputed.
 *
 * What the verifier itself reports (outside this module): **truncated** when the chain ends before the last
 * checkpoint's seq, or when the record at a checkpoint's seq has another hash and the chain after it is
 * consistent (nothing else explains it: the tail was cut and regrown); **bad_checkpoint** when a signature
 * does not verify or names an unknown key.
 *
 * Limits: a window is bounded (32 records by default), so a record moved further than that reads as edited
 * or deleted; damage that recomputes every later hash is only seen at the next checkpoint; records appended
 * after the last checkpoint that link correctly cannot be told from genuine ones.
 */
import type { AuditRecord } from './record.js';
import { hashRecord, hashRecordAtSeqs } from './record.js';

export type TamperKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'bad_checkpoint';

export interface Damage {
  kind: TamperKind;
  position: number;
  detail: string;
}

/** What the verifier keeps of an accepted record. */
export interface Link {
  seq: number;
  hash: string;
  prev: string;
}

export interface Diagnosis {
  /** The last accepted records, oldest first (possibly empty). */
  ctx: readonly Link[];
  /** win[0] did not fit; the rest followed it in stored order. */
  win: readonly AuditRecord[];
  /** The seq the chain expects next. */
  expectedSeq: number;
  /** The prev_hash the chain expects next; null when the first record's prev_hash is taken on trust (a range without anchor). */
  expectedPrev: string | null;
  /** Set when the last accepted record's hash differs from the signed checkpoint at its seq (`hash`). */
  checkpointMismatch: { seq: number; hash: string } | null;
  /** Checkpoint hash → its seq, for records that are gone. */
  checkpointSeqByHash: ReadonlyMap<string, number>;
  /** Window size, which also bounds how far away a moved record's true seq is looked for. */
  reach: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const isNullableString = (v: unknown): boolean => v === null || typeof v === 'string';

/** Whether `r` has the version-1 shape (anything else cannot be hashed meaningfully). */
export function isWellFormed(r: unknown): r is AuditRecord {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as Record<string, unknown>;
  return x.v === 1 && Number.isSafeInteger(x.seq) && (x.seq as number) >= 1 && typeof x.time === 'string' && typeof x.type === 'string'
    && isNullableString(x.actor) && isNullableString(x.session_id) && isNullableString(x.connection)
    && typeof x.data === 'object' && x.data !== null && !Array.isArray(x.data)
    && typeof x.prev_hash === 'string' && HEX64.test(x.prev_hash) && typeof x.hash === 'string' && HEX64.test(x.hash);
}

/** Whether a well-formed record's stored hash matches its content. */
export function hashMatches(r: AuditRecord): boolean {
  try {
    return hashRecord(r) === r.hash;
  } catch {
    return false;
  }
}

/** Per-record facts about the window, computed on demand. */
class Facts {
  readonly #d: Diagnosis;
  readonly #trueSeq = new Map<number, number | null>();

  constructor(d: Diagnosis) {
    this.#d = d;
  }

  ok(i: number): boolean {
    const r = this.#d.win[i];
    return r !== undefined && isWellFormed(r);
  }

  /** The seq under which the record's stored hash verifies (its own when intact), or null. */
  trueSeq(i: number): number | null {
    if (this.#trueSeq.has(i)) return this.#trueSeq.get(i) ?? null;
    const r = this.#d.win[i];
    let found: number | null = null;
    if (r !== undefined && isWellFormed(r)) {
      if (hashMatches(r)) {
        found = r.seq;
      } else {
        const { expectedSeq: e, reach } = this.#d;
        const candidates = new Set<number>();
        for (let s = Math.max(1, e - 2 * reach); s <= e + 3 * reach; s++) candidates.add(s);
        for (const l of this.#d.ctx) if (l.hash === r.prev_hash) candidates.add(l.seq + 1);
        for (const w of this.#d.win) if (isWellFormed(w) && w.hash === r.prev_hash) candidates.add(w.seq + 1);
        candidates.delete(r.seq);
        try {
          for (const [s, h] of hashRecordAtSeqs(r, [...candidates])) if (h === r.hash) found = s;
        } catch {
          found = null;
        }
      }
    }
    this.#trueSeq.set(i, found);
    return found;
  }
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** Names the first damage. See the module comment for the rules. */
export function classify(d: Diagnosis): Damage {
  const { ctx, win, expectedSeq: E, expectedPrev: P } = d;
  const f = new Facts(d);
  const g = ctx[ctx.length - 1];
  const r0 = win[0];
  const r1 = win[1];
  if (r0 === undefined) return { kind: 'truncated', position: E, detail: 'no record to examine' };
  const prevFits = (r: AuditRecord): boolean => P === null || r.prev_hash === P;

  // 1. The accepted record contradicts its checkpoint and the chain breaks right after it.
  // (Unless the record the checkpoint names comes next: then the accepted one was inserted before it, rules 2 and 7.)
  const cm = d.checkpointMismatch;
  if (cm && g && !(isWellFormed(r0) && (r0.prev_hash === g.hash || r0.hash === cm.hash))) {
    return { kind: 'edited', position: g.seq, detail: `record ${g.seq} does not have the hash its signed checkpoint names, and the next record does not link to it: it was changed and its hash recomputed` };
  }
  if (!isWellFormed(r0)) {
    if (r1 && isWellFormed(r1) && prevFits(r1) && restoresWithout(d, f, 0)) {
      return { kind: 'inserted', position: E, detail: `an unreadable extra record sits where record ${E} is expected; the chain goes on without it` };
    }
    return { kind: 'edited', position: E, detail: `the record at seq ${E} is unreadable or lacks version-1 fields` };
  }

  // 2. A seq at or below one already accepted.
  if (r0.seq < E) {
    const copyOf = ctx.find((l) => l.hash === r0.hash);
    if (copyOf) return { kind: 'inserted', position: r0.seq, detail: `a second copy of record ${copyOf.seq}` };
    const beforeG = ctx[ctx.length - 2];
    if (g && r0.seq === g.seq && r1?.prev_hash === r0.hash && beforeG && r0.prev_hash === beforeG.hash) {
      return { kind: 'inserted', position: g.seq, detail: `two records claim seq ${g.seq}; the chain goes on from the second, so the first is extra` };
    }
    return { kind: 'inserted', position: r0.seq, detail: `an extra record claims seq ${r0.seq}, which the chain already has` };
  }

  // 3. It points at a record that comes later.
  const laterIdx = win.findIndex((w, i) => i > 0 && isWellFormed(w) && w.hash === r0.prev_hash);
  if (laterIdx > 0) {
    return { kind: 'reordered', position: E, detail: `the record at seq ${r0.seq} links to a record stored after it: records around seq ${E} are out of order` };
  }

  // 4. A seq gap.
  if (r0.seq > E) {
    if (P !== null && r0.prev_hash === P && hashMatches(r0)) {
      return { kind: 'edited', position: E, detail: `record ${E} links correctly but claims seq ${r0.seq}: its seq was changed and its hash recomputed` };
    }
    const n = r0.seq - E;
    return { kind: 'deleted', position: E, detail: `${plural(n, 'record')} missing: seq ${E}${n > 1 ? `–${r0.seq - 1}` : ''}` };
  }

  // From here on r0.seq === E.
  const fitsInPlace = prevFits(r0);
  // 5. An extra record: the chain is whole without it. (A record that links in place and is last is an edit.)
  const t0 = f.trueSeq(0);
  const genuineElsewhere = t0 !== null && t0 !== E; // a real record moved here: rules 6-8 say what happened
  const vouched = d.checkpointSeqByHash.get(r0.hash) === r0.seq && t0 === r0.seq; // a signed checkpoint names it
  if (P !== null && !vouched && (!fitsInPlace || win.length > 1) && !(genuineElsewhere && win.length === 1) && restoresWithout(d, f, 0)) {
    return { kind: 'inserted', position: E, detail: `the record at seq ${E} does not belong: without it the chain is intact` };
  }

  // 6. The record that belongs here comes later.
  // (r0 must itself be a genuine record, displaced: one matching no hash is an edit or a forgery.)
  if (P !== null && f.trueSeq(0) !== null) {
    for (let i = 1; i < win.length; i++) {
      const w = win[i]!;
      if (f.ok(i) && w.prev_hash === P && f.trueSeq(i) === E) {
        return { kind: 'reordered', position: E, detail: `record ${E} is stored at seq ${w.seq}, after records that belong later` };
      }
    }
  }

  // 7. Renumbered up over accepted, inserted records.
  if (t0 !== null && t0 < E) {
    const pred = ctx.find((l) => l.seq === t0 - 1 && l.hash === r0.prev_hash);
    if (pred) {
      return { kind: 'inserted', position: t0, detail: `${plural(E - t0, 'record')} inserted at seq ${t0}; the records after were renumbered up` };
    }
  }
  // 8. Renumbered down over a gap, or pointing at a checkpointed record that is gone.
  if (t0 !== null && t0 > E && !fitsInPlace) {
    return { kind: 'deleted', position: E, detail: `${plural(t0 - E, 'record')} missing before the record now at seq ${E} (it was seq ${t0}; the rest was renumbered down)` };
  }
  const goneSeq = d.checkpointSeqByHash.get(r0.prev_hash);
  if (!fitsInPlace && goneSeq !== undefined && goneSeq >= E) {
    return { kind: 'deleted', position: E, detail: `the record at seq ${E} links to checkpointed record ${goneSeq}, which is missing` };
  }
  // 9. Content changed.
  if (t0 === null) {
    return { kind: 'edited', position: E, detail: `record ${E} does not match its hash: its content was changed` };
  }
  // 10. A link break between two intact records.
  if (g === undefined) {
    return { kind: 'edited', position: E, detail: `record ${E}'s prev_hash does not match the chain's start (genesis or anchor)` };
  }
  if (vouched || (r1 && isWellFormed(r1) && r1.prev_hash === r0.hash)) {
    const why = vouched ? 'a signed checkpoint vouches for record ' + E : `record ${E + 1} links to record ${E}`;
    return { kind: 'edited', position: g.seq, detail: `record ${E} does not link to record ${g.seq}, and ${why}: record ${g.seq} was changed and its hash recomputed` };
  }
  return { kind: 'edited', position: E, detail: `record ${E} does not link to record ${g.seq}` };
}

/** Whether the window without win[skip] continues the chain from the expected point (by true seq). */
function restoresWithout(d: Diagnosis, f: Facts, skip: number): boolean {
  let seq = d.expectedSeq;
  let prev = d.expectedPrev;
  for (let i = 0; i < d.win.length; i++) {
    if (i === skip) continue;
    const w = d.win[i]!;
    if (!f.ok(i) || (prev !== null && w.prev_hash !== prev) || f.trueSeq(i) !== seq) return false;
    seq++;
    prev = w.hash;
  }
  return true;
}
