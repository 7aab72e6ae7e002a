/**
 * Verifying an audit chain and its signed checkpoints, one record at a time. `verifyChain` is the batch form;
 * `ChainVerifier` is what the CLI streams millions of records through. How damage is named is described in
 * ./classify.ts.
 */
import type { JWK } from 'jose';
import { HoopError } from '../errors.js';
import { classify, hashMatches, isWellFormed, type Damage, type Link, type TamperKind } from './classify.js';
import { checkpointProblem, GENESIS_HASH, keysByKid, type AuditRecord, type Checkpoint } from './record.js';

export type { TamperKind } from './classify.js';

export type VerifyResult =
  | { ok: true; records: number; checkpoints: number; lastSeq: number; lastHash: string }
  | {
    ok: false;
    /** The seq where the damage is first seen. */
    position: number;
    kind: TamperKind;
    detail: string;
    /** Records read (including those read past the damage to name it). */
    records: number;
  };

export interface VerifyOptions {
  /** The range starts here and its first record's prev_hash is taken on trust (prefer `anchor`). */
  fromSeq?: number;
  /** The range continues from this record (not included): the first record must be `seq + 1` and link to `hash`. */
  anchor?: { seq: number; hash: string };
}

export interface ChainVerifierOptions extends VerifyOptions {
  /** Ed25519 public JWKs; checkpoints name theirs by `kid` (or RFC 7638 thumbprint when a JWK has no kid). */
  publicKeys: readonly JWK[];
  /**
   * Checkpoints known up front: memory stays bounded by their number. When they are only given to
   * `finish`, the verifier keeps 32 bytes per record to check them at the end.
   */
  checkpoints?: readonly Checkpoint[];
  /** Records read past the first damage to name it; default 32. */
  window?: number;
}

const CONTEXT = 8;

/** The hashes of accepted records, 32 bytes each, for checkpoints that arrive only at `finish`. */
class HashLog {
  static readonly CHUNK = 65_536;
  readonly #first: number;
  readonly #chunks: Buffer[] = [];
  #n = 0;

  constructor(first: number) {
    this.#first = first;
  }

  add(hash: string): void {
    const i = this.#n++;
    const c = Math.floor(i / HashLog.CHUNK);
    if (c === this.#chunks.length) this.#chunks.push(Buffer.alloc(HashLog.CHUNK * 32));
    this.#chunks[c]!.write(hash, (i % HashLog.CHUNK) * 32, 32, 'hex');
  }

  get(seq: number): string | undefined {
    const i = seq - this.#first;
    if (i < 0 || i >= this.#n) return undefined;
    const off = (i % HashLog.CHUNK) * 32;
    return this.#chunks[Math.floor(i / HashLog.CHUNK)]!.toString('hex', off, off + 32);
  }
}

/**
 * Streaming verifier. Push records in stored order (by seq), then call `finish` once.
 * After damage is found and named (`settled`), further records are only counted.
 */
export class ChainVerifier {
  readonly #keys;
  readonly #window: number;
  readonly #startSeq: number;
  readonly #anchor: { seq: number; hash: string } | undefined;
  #expSeq: number;
  #expPrev: string | null;
  #ctx: Link[] = [];
  #win: AuditRecord[] = [];
  #cpBySeq = new Map<number, Checkpoint[]>();
  #cpSeqByHash = new Map<string, number>();
  #badCheckpoint: Damage | null = null;
  #matched = 0;
  #mismatch: { seq: number; hash: string } | null = null;
  #damage: Damage | null = null;
  #count = 0;
  #lastHash: string;
  #hashLog: HashLog | undefined;
  #finished = false;

  constructor(options: ChainVerifierOptions) {
    const { anchor, fromSeq } = options;
    if (anchor && fromSeq !== undefined && fromSeq !== anchor.seq + 1) {
      throw new HoopError('usage', `fromSeq ${fromSeq} does not follow anchor seq ${anchor.seq}`);
    }
    this.#keys = keysByKid(options.publicKeys);
    this.#window = Math.max(2, options.window ?? 32);
    this.#anchor = anchor;
    this.#startSeq = anchor ? anchor.seq + 1 : fromSeq ?? 1;
    this.#expSeq = this.#startSeq;
    this.#expPrev = anchor ? anchor.hash : fromSeq !== undefined && fromSeq > 1 ? null : GENESIS_HASH;
    this.#lastHash = this.#expPrev ?? '';
    if (options.checkpoints) this.#addCheckpoints(options.checkpoints);
    else this.#hashLog = new HashLog(this.#startSeq);
  }

  /** True once damage has been found and named: the CLI may stop reading. */
  get settled(): boolean {
    return this.#damage !== null;
  }

  push(record: AuditRecord): void {
    this.#count++;
    if (this.#damage || this.#finished) return;
    if (this.#win.length > 0) {
      this.#win.push(record);
      if (this.#win.length > this.#window) this.#decide();
      return;
    }
    if (this.#fits(record)) {
      if (this.#mismatch) {
        // The chain goes on consistently from a record its checkpoint disowns: the tail was cut and regrown.
        this.#damage = truncatedAt(this.#mismatch.seq);
        return;
      }
      this.#accept(record);
      return;
    }
    this.#win.push(record);
  }

  /** Ends the stream. `checkpoints` are those not given to the constructor. */
  finish(checkpoints?: readonly Checkpoint[]): VerifyResult {
    if (this.#finished) throw new HoopError('internal', 'ChainVerifier.finish called twice');
    this.#finished = true;
    if (checkpoints && !this.#hashLog) {
      throw new HoopError('internal', 'checkpoints were given to both the constructor and finish');
    }
    if (!this.#damage && this.#win.length > 0) this.#decide();
    if (!this.#damage && this.#mismatch) this.#damage = truncatedAt(this.#mismatch.seq);
    if (checkpoints) this.#lateCheckpoints(checkpoints);
    if (!this.#damage) {
      const last = this.#expSeq - 1;
      const beyond = [...this.#cpBySeq.keys()].filter((s) => s > last).sort((a, b) => a - b);
      const top = beyond[beyond.length - 1];
      if (top !== undefined) {
        this.#damage = { kind: 'truncated', position: last + 1, detail: `the chain ends at seq ${last}, but a signed checkpoint covers seq ${top}` };
      }
    }
    let damage = this.#damage;
    const bad = this.#badCheckpoint;
    if (bad && (!damage || bad.position < damage.position)) damage = bad;
    if (damage) return { ok: false, ...damage, records: this.#count };
    return { ok: true, records: this.#count, checkpoints: this.#matched, lastSeq: this.#expSeq - 1, lastHash: this.#lastHash };
  }

  #fits(r: AuditRecord): boolean {
    return isWellFormed(r) && r.seq === this.#expSeq && (this.#expPrev === null || r.prev_hash === this.#expPrev) && hashMatches(r);
  }

  #accept(r: AuditRecord): void {
    this.#ctx.push({ seq: r.seq, hash: r.hash, prev: r.prev_hash });
    if (this.#ctx.length > CONTEXT) this.#ctx.shift();
    this.#expSeq = r.seq + 1;
    this.#expPrev = r.hash;
    this.#lastHash = r.hash;
    this.#hashLog?.add(r.hash);
    for (const c of this.#cpBySeq.get(r.seq) ?? []) {
      if (c.hash === r.hash) this.#matched++;
      else this.#mismatch ??= { seq: r.seq, hash: c.hash };
    }
  }

  #decide(): void {
    this.#damage = classify({
      ctx: this.#ctx,
      win: this.#win,
      expectedSeq: this.#expSeq,
      expectedPrev: this.#expPrev,
      checkpointMismatch: this.#mismatch,
      checkpointSeqByHash: this.#cpSeqByHash,
      reach: this.#window,
    });
    this.#win = [];
  }

  #addCheckpoints(list: readonly Checkpoint[]): Checkpoint[] {
    const added: Checkpoint[] = [];
    for (const c of list) {
      const problem = checkpointProblem(c, this.#keys);
      if (problem) {
        const position = Number.isSafeInteger(c?.seq) ? c.seq : 0;
        if (!this.#badCheckpoint || position < this.#badCheckpoint.position) {
          this.#badCheckpoint = { kind: 'bad_checkpoint', position, detail: `checkpoint at seq ${position}: ${problem}` };
        }
        continue;
      }
      if (this.#anchor && c.seq === this.#anchor.seq) {
        if (c.hash === this.#anchor.hash) this.#matched++;
        else this.#damage ??= { kind: 'edited', position: c.seq, detail: `the anchor (the hash of record ${c.seq}, from which this range continues) differs from the signed checkpoint at that seq` };
        continue;
      }
      if (c.seq < this.#startSeq) continue; // before the range: nothing here to check it against
      const at = this.#cpBySeq.get(c.seq) ?? [];
      at.push(c);
      this.#cpBySeq.set(c.seq, at);
      this.#cpSeqByHash.set(c.hash, c.seq);
      added.push(c);
    }
    return added;
  }

  /** Checkpoints given only to finish, checked against the hashes kept of accepted records. */
  #lateCheckpoints(list: readonly Checkpoint[]): void {
    for (const c of this.#addCheckpoints(list)) {
      const stored = this.#hashLog?.get(c.seq);
      if (stored === undefined) continue; // beyond the accepted chain: handled as truncation or already damaged
      if (stored === c.hash) this.#matched++;
      else if (!this.#damage || c.seq < this.#damage.position) this.#damage = truncatedAt(c.seq);
    }
  }
}

function truncatedAt(seq: number): Damage {
  return {
    kind: 'truncated',
    position: seq,
    detail: `record ${seq} does not have the hash its signed checkpoint names, and the chain after it is consistent: the log was cut and rewritten from seq ${seq} or earlier`,
  };
}

/**
 * Verifies records (as stored, ordered by seq) and checkpoints. The first damage is reported with the seq
 * where it is seen and its kind (see ./classify.ts for how kinds are told apart).
 */
export function verifyChain(
  records: Iterable<AuditRecord>,
  checkpoints: readonly Checkpoint[],
  publicKeys: readonly JWK[],
  opts: VerifyOptions = {},
): VerifyResult {
  const v = new ChainVerifier({ ...opts, publicKeys, checkpoints });
  for (const r of records) v.push(r);
  return v.finish();
}
