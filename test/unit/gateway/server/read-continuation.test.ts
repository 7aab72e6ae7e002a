/** Continuations of paged audit reads: genuine, bound to the reader and the next seq, and short-lived. */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReadContinuations } from '../../../../gateway/server/read-continuation.js';

const clock = { t: Date.UTC(2026, 0, 2) };
const now = (): Date => new Date(clock.t);
const { privateKey } = generateKeyPairSync('ed25519');
const readId = randomUUID();

describe('ReadContinuations', () => {
  const c = ReadContinuations.fromSigningKey(privateKey, now);

  it('accepts its own continuation, for the reader and the seq it was issued for', () => {
    expect(c.verify(c.issue('bob', readId, 2001), 'bob', 2001)).toEqual({ readId });
    // another instance with the same signing key accepts it too
    expect(ReadContinuations.fromSigningKey(privateKey, now).verify(c.issue('bob', readId, 2001), 'bob', 2001)).toEqual({ readId });
  });

  it('refuses one for another reader, another seq, another key, an edited one, or an expired one', () => {
    const token = c.issue('bob', readId, 2001);
    expect(c.verify(token, 'carol', 2001)).toBeUndefined();
    expect(c.verify(token, 'bob', 1)).toBeUndefined();
    expect(c.verify(token.replace('.2001.', '.1.'), 'bob', 1)).toBeUndefined();
    expect(ReadContinuations.fromSigningKey(generateKeyPairSync('ed25519').privateKey, now).verify(token, 'bob', 2001)).toBeUndefined();
    // A character inside the MAC: the last one of an unpadded base64url MAC carries bits that decoding drops.
    const at = token.length - 5;
    const edited = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    expect(c.verify(edited, 'bob', 2001)).toBeUndefined();
    for (const junk of ['', '1', 'v1', `v1.${readId}.2001`, 'x'.repeat(10_000)]) expect(c.verify(junk, 'bob', 2001)).toBeUndefined();
    clock.t += 16 * 60_000;
    expect(c.verify(token, 'bob', 2001)).toBeUndefined();
  });
});
