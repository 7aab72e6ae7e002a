/**
 * `hoop audit export`: writes the records of a time range, the checkpoints that vouch for them and the
 * public keys into an evidence bundle (shared/audit/bundle.ts) that verifies offline.
 */
import type { JWK } from 'jose';
import { writeBundle, type BundleManifest } from '../../shared/audit/bundle.js';
import type { SigningKey } from '../grants/signing-key.js';
import type { Queryable } from '../store/db.js';
import { readCheckpoints, readRecords, seqRangeForTime } from './reader.js';

export interface ExportOptions {
  /** Records at or after this time; default: the beginning. */
  since?: Date;
  /** Records before this time; default: now. */
  until?: Date;
  outDir: string;
  gatewayUrl: string;
  /** Rows for sessions.csv and statements.csv (the caller's views). */
  sessions?: readonly object[];
  statements?: readonly object[];
  /** Signs the manifest, so that edits of any file (CSV views and README included) fail verification. */
  signingKey: SigningKey;
  now?: () => Date;
}

/**
 * Exports a bundle. The chain is the seq interval matching the time range; the bundle carries every checkpoint
 * inside it and the one at the anchor (the record just before the range), when there is one.
 */
export async function exportBundle(db: Queryable, publicKeys: readonly JWK[], options: ExportOptions): Promise<BundleManifest> {
  const now = options.now ?? (() => new Date());
  const until = options.until ?? now();
  const range = await seqRangeForTime(db, options.since, until);
  const records = range ? readRecords(db, { fromSeq: range.first, toSeq: range.last }) : [];
  const checkpoints = range ? await readCheckpoints(db, { fromSeq: range.first - 1, toSeq: range.last }) : [];
  return writeBundle(options.outDir, {
    records,
    checkpoints,
    publicKeys,
    gateway: options.gatewayUrl,
    range: { since: options.since?.toISOString() ?? null, until: until.toISOString() },
    sessions: options.sessions ?? [],
    statements: options.statements ?? [],
    createdAt: now(),
    signer: { kid: options.signingKey.kid, privateKey: options.signingKey.privateKey },
  });
}
