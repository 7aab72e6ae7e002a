import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../../../shared/errors.js';
import { Reader } from '../../../../../../gateway/engines/postgres/protocol/reader.js';
import { cstr, int16, int32, lenBytes } from '../../../../../helpers/pg-bytes.js';

describe('Reader', () => {
  it('reads integers, strings and bytes in order', () => {
    const r = new Reader(Buffer.concat([Buffer.from([0xfe]), int16(-2), int32(-3), int32(0xfffffffe), cstr('héllo'), Buffer.from('xyz')]), 'Test');
    expect(r.uint8()).toBe(0xfe);
    expect(r.int16()).toBe(-2);
    expect(r.int32()).toBe(-3);
    expect(r.uint32()).toBe(0xfffffffe);
    expect(r.cstring()).toBe('héllo');
    expect(r.remaining()).toBe(3);
    expect(r.bytes(2).toString()).toBe('xy');
    expect(r.rest().toString()).toBe('z');
    r.end();
  });

  it('honours byteOffset on a slice of a larger buffer', () => {
    const big = Buffer.concat([int32(0x11111111), int32(42), cstr('a'), int32(0x22222222)]);
    const r = new Reader(big.subarray(4, 10), 'Test');
    expect(r.int32()).toBe(42);
    expect(r.cstring()).toBe('a');
    r.end();
    expect(() => r.uint8()).toThrow(ProtocolError);
  });

  it('does not find a terminator outside its slice', () => {
    const big = Buffer.concat([Buffer.from('abc'), Buffer.from([0])]);
    expect(() => new Reader(big.subarray(0, 3), 'Test').cstring()).toThrow(/NUL terminator/);
  });

  it.each([
    ['uint8', (r: Reader) => r.uint8()],
    ['int16', (r: Reader) => r.int16()],
    ['int32', (r: Reader) => r.int32()],
    ['uint32', (r: Reader) => r.uint32()],
    ['cstring', (r: Reader) => r.cstring()],
    ['bytes(1)', (r: Reader) => r.bytes(1)],
    ['nullableBytes', (r: Reader) => r.nullableBytes()],
  ])('%s past the end throws ProtocolError', (_name, read) => {
    expect(() => read(new Reader(Buffer.alloc(0), 'Test'))).toThrow(ProtocolError);
  });

  it('rejects a negative byte count and a value length below -1', () => {
    expect(() => new Reader(Buffer.alloc(4), 'Test').bytes(-1)).toThrow(ProtocolError);
    expect(() => new Reader(int32(-2), 'Test').nullableBytes()).toThrow(/invalid value length -2/);
    expect(new Reader(lenBytes(null), 'Test').nullableBytes()).toBeNull();
  });

  it('reports trailing bytes', () => {
    const r = new Reader(Buffer.from([1, 2]), 'Sync');
    r.uint8();
    expect(() => r.end()).toThrow('malformed Sync message: 1 unexpected trailing bytes');
  });

  it('reads Int16 counts as unsigned, as the server does', () => {
    const r = new Reader(int16(0xffff), 'Test');
    expect(() => r.array((x) => x.uint8())).toThrow(ProtocolError); // 65535 items announced, none present
  });
});
