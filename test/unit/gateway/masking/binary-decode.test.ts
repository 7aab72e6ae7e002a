import { describe, expect, it } from 'vitest';
import { decodeArray, decodeInteger, decodeNumeric } from '../../../../gateway/masking/binary-decode.js';
import { int16, int32 } from '../../../helpers/pg-bytes.js';

/** numeric_send layout: ndigits, weight, sign, dscale, then base-10000 digits. */
function numeric(digits: number[], weight: number, sign: number, dscale: number): Buffer {
  return Buffer.concat([int16(digits.length), int16(weight), int16(sign), int16(dscale), ...digits.map(int16)]);
}

describe('decodeNumeric', () => {
  it.each([
    [numeric([], 0, 0, 0), '0'],
    [numeric([1], 0, 0, 0), '1'],
    [numeric([123, 4500], 0, 0, 2), '123.45'],
    [numeric([12], -1, 0x4000, 4), '-0.0012'],
    [numeric([1, 0], 1, 0, 0), '10000'],
    [numeric([1], 2, 0, 0), '100000000'],
    [numeric([4242, 4242, 4242, 4242], 3, 0, 0), '4242424242424242'],
    [numeric([5], -2, 0, 8), '0.00000005'],
    [numeric([], 0, 0xc000, 0), 'NaN'],
    [numeric([], 0, 0xd000, 0), 'Infinity'],
    [numeric([], 0, 0xf000, 0), '-Infinity'],
  ])('%j -> %s', (b, s) => {
    expect(decodeNumeric(b)).toBe(s);
  });

  it.each([
    ['too short', Buffer.alloc(7)],
    ['digit count beyond the bytes', Buffer.concat([int16(2), int16(0), int16(0), int16(0), int16(1)])],
    ['a digit above 9999', numeric([10000], 0, 0, 0)],
    ['an unknown sign', numeric([1], 0, 0x1234, 0)],
  ])('returns null on %s', (_n, b) => {
    expect(decodeNumeric(b)).toBeNull();
  });
});

describe('decodeInteger', () => {
  it('reads int2, int4 and int8, and nothing else', () => {
    expect(decodeInteger(int16(-2))).toBe('-2');
    expect(decodeInteger(int32(123456))).toBe('123456');
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(-4242424242424242n);
    expect(decodeInteger(b)).toBe('-4242424242424242');
    expect(decodeInteger(Buffer.alloc(3))).toBeNull();
  });
});

describe('decodeArray', () => {
  it('reads a two-dimensional array with a NULL', () => {
    const b = Buffer.concat([int32(2), int32(1), int32(25), int32(2), int32(1), int32(1), int32(1), int32(1), Buffer.from('a'), int32(-1)]);
    expect(decodeArray(b)).toEqual({ elementOid: 25, elements: [Buffer.from('a'), null] });
  });

  it('reads an empty array', () => {
    expect(decodeArray(Buffer.concat([int32(0), int32(0), int32(25)]))).toEqual({ elementOid: 25, elements: [] });
  });

  it.each([
    ['too short', Buffer.alloc(11)],
    ['too many dimensions', Buffer.concat([int32(7), int32(0), int32(25)])],
    ['a count the bytes cannot hold', Buffer.concat([int32(1), int32(0), int32(25), int32(1_000_000), int32(1)])],
    ['a missing dimension', Buffer.concat([int32(1), int32(0), int32(25)])],
    ['an element past the end', Buffer.concat([int32(1), int32(0), int32(25), int32(1), int32(1), int32(5), Buffer.from('ab')])],
    ['trailing bytes', Buffer.concat([int32(1), int32(0), int32(25), int32(1), int32(1), int32(1), Buffer.from('ab')])],
  ])('returns null on %s', (_n, b) => {
    expect(decodeArray(b)).toBeNull();
  });
});
