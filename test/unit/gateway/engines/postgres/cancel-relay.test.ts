import { describe, expect, it } from 'vitest';
import { keyDigest, parseRemoteCancel } from '../../../../../gateway/engines/postgres/cancel-registry.js';

describe('cancel requests between instances', () => {
  it('names a key by a digest that does not contain it', () => {
    const secret = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const d = keyDigest(4242, secret);
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(d).not.toContain('deadbeef');
    expect(keyDigest(4242, secret)).toBe(d);
    expect(keyDigest(4243, secret)).not.toBe(d);
  });

  it('reads only well-formed messages from other instances', () => {
    const good = { digest: 'a'.repeat(64), subject: 'alice', origin: 'x' };
    expect(parseRemoteCancel(JSON.stringify(good))).toEqual(good);
    for (const bad of ['', 'not json', 'null', '[]', JSON.stringify({ ...good, digest: 'A'.repeat(64) }), JSON.stringify({ ...good, digest: 'a' }),
      JSON.stringify({ ...good, subject: 1 }), JSON.stringify({ digest: good.digest, subject: 'alice' })]) {
      expect(parseRemoteCancel(bad)).toBeNull();
    }
  });
});
