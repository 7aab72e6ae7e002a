/**
 * `hoop audit verify` on the gateway side: streams the stored chain through the shared verifier, with the
 * checkpoints and public keys from the same database.
 */
import type { JWK } from 'jose';
import { ChainVerifier, type VerifyResult } from '../../shared/audit/verify.js';
import type { Queryable } from '../store/db.js';
import { readCheckpoints, readPublicKeys, readRecords } from './reader.js';

export interface VerifyStoredOptions {
  /** Default: every key in gateway_keys. Pass pinned keys to not trust the database for them. */
  publicKeys?: readonly JWK[];
  /** Start here (the first record's prev_hash is taken on trust); default 1. */
  fromSeq?: number;
  /** Stop after this seq (checkpoints beyond it are ignored); default the head. */
  toSeq?: number;
}

export async function verifyStoredChain(db: Queryable, options: VerifyStoredOptions = {}): Promise<VerifyResult> {
  const publicKeys = options.publicKeys ?? await readPublicKeys(db);
  const fromSeq = options.fromSeq ?? 1;
  const checkpoints = await readCheckpoints(db, { fromSeq, ...(options.toSeq !== undefined ? { toSeq: options.toSeq } : {}) });
  const verifier = new ChainVerifier({ publicKeys, checkpoints, ...(fromSeq > 1 ? { fromSeq } : {}) });
  for await (const r of readRecords(db, { fromSeq, ...(options.toSeq !== undefined ? { toSeq: options.toSeq } : {}) })) {
    verifier.push(r);
    if (verifier.settled) break;
  }
  return verifier.finish();
}
