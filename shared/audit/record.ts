/**
 * The audit record (version 1), its hash, and signed checkpoints. Pure: used by the gateway to write the chain
 * and by the CLI to verify it offline.
 *
 * - `hash` = lowercase hex SHA-256 of the UTF-8 bytes of `canonicalize(record without hash)` (RFC 8785).
 * - `prev_hash` of the first record is 64 zeros; every other record carries the `hash` of the one before it.
 * - A checkpoint's `sig` is base64url Ed25519 over `canonicalize({ seq, hash, time })`.
 */
import { createHash, createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { canonicalize } from './canonical.js';

export const RECORD_VERSION = 1;

/** `prev_hash` of seq 1. */
export const GENESIS_HASH = '0'.repeat(64);

export interface AuditRecord {
  v: 1;
  seq: number;
  /** RFC 3339 UTC with microseconds, e.g. `2026-01-02T03:04:05.123000Z` (see {@link auditTime}). */
  time: string;
  /** e.g. `grant.issued`, `statement`, `session.opened`. */
  type: string;
  actor: string | null;
  session_id: string | null;
  connection: string | null;
  data: Record<string, unknown>;
  /** Hex; 64 zeros for seq 1. */
  prev_hash: string;
  /** Hex SHA-256 of the canonical record without `hash`. */
  hash: string;
}

export type UnhashedRecord = Omit<AuditRecord, 'hash'>;

export interface Checkpoint {
  seq: number;
  hash: string;
  time: string;
  kid: string;
  /** base64url Ed25519 over `canonicalize({ seq, hash, time })`. */
  sig: string;
}

/** Hex SHA-256 of the UTF-8 bytes of `text` (one-shot `crypto.hash`: no Hash object per call). */
export const sha256hex = (text: string): string => hash('sha256', text, 'hex');

/**
 * The canonical text of the version-1 members of `r` (whatever else it carries, a stored `hash` for one), with
 * `dataText` as the text of `data`. Written member by member in their canonical order (actor, connection, data,
 * prev_hash, seq, session_id, time, type, v: sorted by UTF-16 code units), which is what `canonicalize` of the
 * record gives, without building and sorting an object per record.
 */
function recordText(r: Omit<UnhashedRecord, 'data'>, dataText: string): string {
  return `{"actor":${canonicalize(r.actor)},"connection":${canonicalize(r.connection)},"data":${dataText},"prev_hash":${canonicalize(r.prev_hash)},"seq":${canonicalize(r.seq)},"session_id":${canonicalize(r.session_id)},"time":${canonicalize(r.time)},"type":${canonicalize(r.type)},"v":${canonicalize(r.v)}}`;
}

/** The canonical text that {@link hashRecord} hashes. */
export function canonicalRecordText(r: UnhashedRecord): string {
  return recordText(r, canonicalize(r.data));
}

/** Hex SHA-256 of the canonical record without `hash`. @throws HoopError when the record holds non-JSON values. */
export function hashRecord(r: UnhashedRecord): string {
  return sha256hex(canonicalRecordText(r));
}

/**
 * {@link hashRecord} for a writer that already holds the canonical text of `data` (and must hash exactly the
 * text it stores, even if the caller's object changes meanwhile). `dataText` must be `canonicalize(data)`.
 */
export function hashRecordWithDataText(r: Omit<UnhashedRecord, 'data'>, dataText: string): string {
  return sha256hex(recordText(r, dataText));
}

/** Hex SHA-256 of a payload's canonical JSON: what a record's `data.payload_sha256` holds. */
export function payloadDigest(payload: unknown): string {
  return sha256hex(canonicalize(payload));
}

/**
 * Hashes of `r` as if its seq were each of `seqs`, without re-serialising the record each time: the
 * canonical text splits around the seq value (members are sorted, `seq` comes after `prev_hash`).
 * Used by the verifier to recognise a record that was moved to another seq.
 */
export function hashRecordAtSeqs(r: UnhashedRecord, seqs: readonly number[]): Map<number, string> {
  const marker = -1; // a seq the writer never uses
  const text = canonicalRecordText({ ...r, seq: marker });
  // The last occurrence: `data` (sorted before `seq`) may hold a nested "seq"; members after it are scalars.
  const at = text.lastIndexOf(`"seq":${marker},`);
  const out = new Map<number, string>();
  if (at < 0) return out;
  const prefix = createHash('sha256').update(text.slice(0, at + 6), 'utf8');
  const suffix = text.slice(at + 6 + String(marker).length);
  for (const s of seqs) out.set(s, prefix.copy().update(`${s}${suffix}`, 'utf8').digest('hex'));
  return out;
}

/** The record time format: RFC 3339 UTC with exactly six fractional digits (what PostgreSQL timestamptz keeps). */
export function auditTime(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

/** The bytes a checkpoint signature covers. */
export function checkpointMessage(c: { seq: number; hash: string; time: string }): Buffer {
  return Buffer.from(canonicalize({ seq: c.seq, hash: c.hash, time: c.time }), 'utf8');
}

/** Signs `{ seq, hash, time }` with an Ed25519 private key. */
export function signCheckpoint(c: { seq: number; hash: string; time: string }, privateKey: KeyObject, kid: string): Checkpoint {
  const sig = sign(null, checkpointMessage(c), privateKey).toString('base64url');
  return { seq: c.seq, hash: c.hash, time: c.time, kid, sig };
}

/** RFC 7638 thumbprint of an OKP public JWK: the `kid` hoop gives its keys. */
export function jwkThumbprint(jwk: JWK): string {
  const members = canonicalize({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(members, 'utf8').digest('base64url');
}

/** Public Ed25519 keys by kid (a JWK without `kid` is known by its thumbprint). Unusable JWKs are skipped. */
export function keysByKid(publicKeys: readonly JWK[]): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const jwk of publicKeys) {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') continue;
    try {
      const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
      out.set(jwk.kid ?? jwkThumbprint(jwk), key);
    } catch {
      // not a valid key: a checkpoint naming it fails as unverifiable
    }
  }
  return out;
}

/** Why a checkpoint does not verify, or null when it does. */
export function checkpointProblem(c: Checkpoint, keys: ReadonlyMap<string, KeyObject>): string | null {
  if (!Number.isSafeInteger(c.seq) || c.seq < 1 || typeof c.hash !== 'string' || typeof c.time !== 'string' || typeof c.sig !== 'string') {
    return 'the checkpoint is malformed';
  }
  const key = keys.get(c.kid);
  if (!key) return `no public key with kid ${JSON.stringify(c.kid)}`;
  let ok: boolean;
  try {
    ok = verify(null, checkpointMessage(c), key, Buffer.from(c.sig, 'base64url'));
  } catch {
    ok = false;
  }
  return ok ? null : 'the Ed25519 signature does not verify';
}
