/**
 * The gateway's Ed25519 signing key, shared by every instance on one database: the first instance creates it
 * (under an advisory lock) and stores the private half sealed with the master key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Database } from '../store/db.js';
import { seal, unseal } from '../crypto/sealed.js';
import { HoopError } from '../../shared/errors.js';

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
      let opened: Buffer;
      try {
        opened = unseal(row.private_jwk_encrypted, masterKey, row.kid);
      } catch (e) {
        // The one way this fails on a sound database: another master key than the one it was sealed with.
        throw new HoopError('config_invalid', `the master key cannot open the signing key sealed in the gateway's database (kid ${row.kid}): it is not the key that sealed it`, {
          cause: e,
          hint: 'every instance sharing a database needs the master key the first one used (its HOOP_MASTER_KEY, or the master.key in its data_dir); `hoop gateway check` says the same without starting',
        });
      }
      const privateJwk = JSON.parse(opened.toString('utf8')) as JWK;
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
