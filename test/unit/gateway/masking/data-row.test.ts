import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../shared/errors.js';
import { maskDataRow, maskValue, TypeOid } from '../../../../gateway/masking/index.js';
import type { ColumnType, MaskAction } from '../../../../gateway/masking/index.js';
import { bodyOf, int16, int32, lenBytes, msg } from '../../../helpers/pg-bytes.js';

const ctx = { hashKey: Buffer.from('k') };
const detectAll: MaskAction = { kind: 'detectors', detectors: ['email', 'credit_card', 'iban', 'us_ssn', 'phone', 'secret'], strategy: 'redact' };
const text: ColumnType = { typeOid: TypeOid.text, format: 0 };

function frameOf(raw: Buffer): { body: Buffer; raw: Buffer } {
  return { body: bodyOf(raw), raw };
}

function int8be(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

describe('maskDataRow', () => {
  const columns: ColumnType[] = [
    { typeOid: TypeOid.int4, format: 0 },
    text,
    text,
    { typeOid: TypeOid.int8, format: 1 },
    text,
  ];
  const raw = msg('D', int16(5), lenBytes('1'), lenBytes('alice@example.com'), lenBytes(null), lenBytes(int8be(4242424242424242n)), lenBytes('hello'));

  it('returns the raw frame itself when no planned value changes', () => {
    const f = frameOf(raw);
    expect(maskDataRow(f, [null, null, null, null, null], columns, ctx)).toEqual({ frame: raw, masked: [0, 0, 0, 0, 0], changed: false });
    expect(maskDataRow(f, [null, null, null, null, null], columns, ctx).frame).toBe(raw);
    expect(maskDataRow(f, [detectAll, null, detectAll, null, detectAll], columns, ctx).frame).toBe(raw);
  });

  it('re-encodes only when a value changed, with new lengths and NULLs', () => {
    const plan: (MaskAction | null)[] = [null, { kind: 'rule', strategy: 'partial' }, { kind: 'rule', strategy: 'redact' }, detectAll, detectAll];
    const r = maskDataRow(frameOf(raw), plan, columns, ctx);
    expect(r.changed).toBe(true);
    expect(r.masked).toEqual([0, 1, 0, 1, 0]);
    expect(r.frame).toEqual(msg('D', int16(5), lenBytes('1'), lenBytes('a***@example.com'), lenBytes(null), lenBytes(null), lenBytes('hello')));
  });

  it('grows and shrinks values, first and last columns included', () => {
    const f = msg('D', int16(3), lenBytes('a@b.co x'), lenBytes('mid'), lenBytes('x'));
    const plan: MaskAction[] = [{ kind: 'rule', strategy: 'hash' }, { kind: 'rule', strategy: 'null' }, { kind: 'rule', strategy: 'hash' }];
    const r = maskDataRow(frameOf(f), plan, [text, text, text], ctx);
    const h = (s: string): string => maskValue(Buffer.from(s), text, { kind: 'rule', strategy: 'hash' }, ctx)?.toString() ?? '';
    expect(r.frame).toEqual(msg('D', int16(3), lenBytes(h('a@b.co x')), lenBytes(null), lenBytes(h('x'))));
    expect(r.masked).toEqual([1, 1, 1]);
  });

  it('reads a body that is a slice of a larger buffer', () => {
    const big = Buffer.concat([Buffer.from('junk'), raw, Buffer.from('more')]);
    const slice = big.subarray(4, 4 + raw.length);
    const r = maskDataRow(frameOf(slice), [null, { kind: 'rule', strategy: 'redact' }, null, null, null], columns, ctx);
    expect(r.frame).toEqual(msg('D', int16(5), lenBytes('1'), lenBytes('***'), lenBytes(null), lenBytes(int8be(4242424242424242n)), lenBytes('hello')));
  });

  it('handles a row with no columns', () => {
    const f = msg('D', int16(0));
    expect(maskDataRow(frameOf(f), [], [], ctx).frame).toBe(f);
  });

  it.each([
    ['an empty body', Buffer.alloc(0), 1],
    ['a one-byte body', Buffer.from([0]), 1],
    ['a negative count', int16(-1), 1],
    ['a count above the description', Buffer.concat([int16(2), lenBytes('a'), lenBytes('b')]), 1],
    ['a count below the description', Buffer.concat([int16(1), lenBytes('a')]), 2],
    ['a truncated length word', Buffer.concat([int16(1), Buffer.from([0, 0])]), 1],
    ['a length of -2', Buffer.concat([int16(1), int32(-2)]), 1],
    ['a value past the end', Buffer.concat([int16(1), int32(10), Buffer.from('abc')]), 1],
    ['a huge length', Buffer.concat([int16(1), int32(0x7fffffff)]), 1],
    ['trailing bytes', Buffer.concat([int16(1), lenBytes('a'), Buffer.from([0])]), 1],
  ])('throws ProtocolError on %s', (_name, body, n) => {
    const plan = new Array<MaskAction | null>(n).fill(detectAll);
    const cols = new Array<ColumnType>(n).fill(text);
    expect(() => maskDataRow({ body, raw: Buffer.concat([Buffer.from('D'), int32(body.length + 4), body]) }, plan, cols, ctx)).toThrow(ProtocolError);
  });
});

describe('maskDataRow properties', () => {
  const actions: (MaskAction | null)[] = [
    null,
    detectAll,
    { kind: 'rule', strategy: 'redact' },
    { kind: 'rule', strategy: 'partial' },
    { kind: 'rule', strategy: 'hash' },
    { kind: 'rule', strategy: 'null' },
    { kind: 'detectors', detectors: ['email'], strategy: 'partial' },
  ];
  const oids = [TypeOid.text, TypeOid.varchar, TypeOid.int4, TypeOid.int8, TypeOid.json, TypeOid.jsonb, TypeOid.numeric, 1009, 99999, TypeOid.uuid];
  const columnArb = fc.record({ typeOid: fc.constantFrom(...oids), format: fc.constantFrom<0 | 1>(0, 1) });
  const planArb = fc.constantFrom(...actions);

  it('throws nothing but ProtocolError on random bodies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.tuple(planArb, columnArb), { maxLength: 4 }), (bytes, cols) => {
        const body = Buffer.from(bytes);
        try {
          maskDataRow({ body, raw: body }, cols.map((c) => c[0]), cols.map((c) => c[1]), ctx);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('throws nothing but ProtocolError on near-valid bodies (a valid row, then mutated)', () => {
    const valueArb = fc.oneof(
      fc.constant(null),
      fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)),
      fc.constantFrom('alice@example.com', '4242 4242 4242 4242', '{"a":"bob@example.org"}', '123-45-6789').map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(valueArb, planArb, columnArb), { maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (cols, at, byte, mutate) => {
          const body = Buffer.concat([int16(cols.length), ...cols.map((c) => lenBytes(c[0]))]);
          if (mutate && body.length > 0) body[at % body.length] = byte;
          try {
            const r = maskDataRow({ body, raw: msg('D', body) }, cols.map((c) => c[1]), cols.map((c) => c[2]), ctx);
            if (!mutate) {
              // A valid row round-trips: each value is what maskValue makes of it.
              const expected = msg('D', int16(cols.length), ...cols.map((c) => lenBytes(c[1] ? maskValue(c[0], c[2], c[1], ctx) : c[0])));
              expect(r.frame).toEqual(expected);
            }
          } catch (e) {
            if (!(e instanceof ProtocolError) || !mutate) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
