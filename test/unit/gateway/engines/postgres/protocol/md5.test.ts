import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../../../shared/errors.js';
import { md5Password } from '../../../../../../gateway/engines/postgres/protocol/md5.js';

describe('md5Password', () => {
  // Expected values computed with Python's hashlib, outside this codebase.
  it.each([
    ['alice', 's3cret', [1, 2, 3, 4], 'md5b79948bbeb35dee03ab8fe15a839030b'],
    ['postgres', 'pässwörd', [0xde, 0xad, 0xbe, 0xef], 'md55e5c61ac4cbcd6a1c67d510117ee65ab'],
  ])('%s / %s', (user, password, salt, expected) => {
    expect(md5Password(user, password, Buffer.from(salt))).toBe(expected);
  });

  it('agrees with a direct node:crypto computation', () => {
    const salt = Buffer.from([9, 8, 7, 6]);
    const inner = createHash('md5').update('pw' + 'u').digest('hex');
    const outer = createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
    expect(md5Password('u', 'pw', salt)).toBe('md5' + outer);
  });

  it('rejects a salt that is not 4 bytes', () => {
    expect(() => md5Password('u', 'p', Buffer.alloc(3))).toThrow(ProtocolError);
  });
});
