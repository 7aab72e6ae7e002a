/**
 * Authenticated encryption at rest (AES-256-GCM) for what the gateway keeps in its database: signing keys and
 * credentials stored through the API. Format: version byte 1 | 12-byte IV | 16-byte tag | ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { HoopError } from '../../shared/errors.js';

const VERSION = 1;

export function seal(plaintext: Buffer, key: Buffer, aad = ''): Buffer {
  if (key.length !== 32) throw new HoopError('internal', 'the master key must be 32 bytes');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ct]);
}

export function unseal(sealed: Buffer, key: Buffer, aad = ''): Buffer {
  if (sealed.length < 29 || sealed[0] !== VERSION) throw new HoopError('internal', 'sealed value has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(13, 29));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]);
  } catch (e) {
    throw new HoopError('internal', 'cannot decrypt a sealed value: wrong master key?', {
      cause: e,
      hint: 'every gateway instance sharing a database needs the same master key (HOOP_MASTER_KEY)',
    });
  }
}
