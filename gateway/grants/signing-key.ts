/**
 * The gateway's Ed25519 signing key, shared by every instance on one database: the first instance creates it
 * (under an advisory lock) and stores the private half sealed with the master key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Database } from '../store/db.js';
import { seal, unseal } from '../crypto/sealed.js';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

const LOCK_ID = 0x686f6f70; // "hoop"

export async function loadOrCreateSigningKey(db: Database, masterKey: Buffer): Promise<SigningKey> {
  return db.transaction(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    const existing = await q.query<{ kid: string; public_jwk: JWK; private_jwk_encrypted: Buffer }>(
      `SELECT kid, public_jwk, private_jwk_encrypted FROM gateway_keys
        WHERE retired_at IS NULL AND alg = 'EdDSA' ORDER BY created_at DESC LIMIT 1`,
    );
    const row = existing.rows[0];
    if (row) {
      const privateJwk = JSON.parse(unseal(row.private_jwk_encrypted, masterKey, row.kid).toString('utf8')) as JWK;
      const privateKey = createPrivateKey({ key: privateJwk as never, format: 'jwk' });
      return { kid: row.kid, privateKey, publicKey: createPublicKey(privateKey), publicJwk: row.public_jwk };
    }
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pub = publicKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(pub);
    const publicJwk: JWK = { ...pub, kid, alg: 'EdDSA', use: 'sig' };
    const sealed = seal(Buffer.from(JSON.stringify(privateKey.export({ format: 'jwk' }))), masterKey, kid);
    await q.query(
      `INSERT INTO gateway_keys (kid, alg, public_jwk, private_jwk_encrypted, created_at) VALUES ($1, 'EdDSA', $2, $3, now())`,
      [kid, JSON.stringify(publicJwk), sealed],
    );
    return { kid, privateKey, publicKey, publicJwk };
  });
}
