/** Synthetic audit chains for the verifier's tests: built with the shared hashing, tampered by hand. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { auditTime, GENESIS_HASH, hashRecord, jwkThumbprint, signCheckpoint } from '../../../../shared/audit/record.js';
import type { AuditRecord, Checkpoint } from '../../../../shared/audit/record.js';

export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
}

export function testKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = jwkThumbprint(pub);
  return { kid, privateKey, publicJwk: { ...pub, kid, alg: 'EdDSA', use: 'sig' } };
}

const BASE = Date.UTC(2026, 0, 2, 3, 4, 5, 123);

/** Records 1..n (or from `start`, linking to `prev`). */
export function buildChain(n: number, start = 1, prev = GENESIS_HASH): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    const seq = start + i;
    const base = {
      v: 1 as const,
      seq,
      time: auditTime(new Date(BASE + seq * 1000)),
      type: seq % 3 === 0 ? 'statement' : 'session.opened',
      actor: seq % 5 === 0 ? null : 'alice',
      session_id: seq % 2 === 0 ? '6f1c1e0e-6c59-4f55-9a4e-0d6b3f0c1a2b' : null,
      connection: 'shop',
      data: { n: seq, text: `SELECT ${seq}`, nested: { seq: -1, list: [1, 'two', null] } },
      prev_hash: prev,
    };
    const r = { ...base, hash: hashRecord(base) };
    out.push(r);
    prev = r.hash;
  }
  return out;
}

/** Recomputes a record's hash after an edit (what a careful forger does). */
export function rehash(r: AuditRecord): AuditRecord {
  return { ...r, hash: hashRecord(r) };
}

export function checkpointAt(records: readonly AuditRecord[], seq: number, key: TestKey): Checkpoint {
  const r = records.find((x) => x.seq === seq);
  if (!r) throw new Error(`no record ${seq}`);
  return signCheckpoint({ seq, hash: r.hash, time: auditTime(new Date(BASE + seq * 1000 + 500)) }, key.privateKey, key.kid);
}

export const clone = <T>(x: T): T => structuredClone(x);
