import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskText, maskValue, typeClassOf, TypeOid } from '../../../../gateway/masking/index.js';
import type { ColumnType, DetectorName, MaskAction } from '../../../../gateway/masking/index.js';
import { int16, int32 } from '../../../helpers/pg-bytes.js';

const ctx = { hashKey: Buffer.from('k') };
const ALL: DetectorName[] = ['email', 'credit_card', 'iban', 'us_ssn', 'phone', 'secret'];
const rule = (strategy: 'redact' | 'partial' | 'hash' | 'null'): MaskAction => ({ kind: 'rule', strategy });
const detect = (strategy: 'redact' | 'partial' | 'hash' | 'null' = 'redact'): MaskAction => ({ kind: 'detectors', detectors: ALL, strategy });
const col = (typeOid: number, format: 0 | 1 = 0, textLike?: boolean): ColumnType => (textLike === undefined ? { typeOid, format } : { typeOid, format, textLike });
const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const str = (v: Buffer | null): string | null => (v === null ? null : v.toString('utf8'));

function int8be(n: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigInt64BE(n);
  return out;
}

/** numeric_send layout: ndigits, weight, sign, dscale, then base-10000 digits. */
function numeric(digits: number[], weight: number, sign: number, dscale: number): Buffer {
  return Buffer.concat([int16(digits.length), int16(weight), int16(sign), int16(dscale), ...digits.map(int16)]);
}

/** array_send layout for one dimension: ndim, has-nulls, element oid, size, lower bound, then elements. */
function array1(elementOid: number, elements: (Buffer | null)[]): Buffer {
  return Buffer.concat([
    int32(1), int32(elements.some((e) => e === null) ? 1 : 0), int32(elementOid), int32(elements.length), int32(1),
    ...elements.map((e) => (e === null ? int32(-1) : Buffer.concat([int32(e.length), e]))),
  ]);
}

describe('maskValue: NULL and unchanged values', () => {
  it.each([rule('redact'), rule('null'), detect()])('NULL stays NULL (%j)', (action) => {
    expect(maskValue(null, col(TypeOid.text), action, ctx)).toBeNull();
    expect(maskValue(null, col(TypeOid.int4, 1), action, ctx)).toBeNull();
  });

  it('returns the same Buffer when detectors find nothing or the mask changes nothing', () => {
    for (const [raw, c] of [
      [b('hello world'), col(TypeOid.text)], [b('hello'), col(TypeOid.varchar, 1)], [b('{"a":1}'), col(TypeOid.json)],
      [Buffer.concat([Buffer.from([1]), b('{"a":1}')]), col(TypeOid.jsonb, 1)], [b('12345'), col(TypeOid.int8)],
      [int8be(12345n), col(TypeOid.int8, 1)], [b('2024-01-05 10:11:12'), col(TypeOid.timestamp)], [Buffer.alloc(16), col(TypeOid.uuid, 1)],
      [b('{a,b}'), col(1009)], [b('happy'), col(99999)],
    ] as const) {
      expect(maskValue(raw, c, detect(), ctx)).toBe(raw);
    }
    const masked = b('***');
    expect(maskValue(masked, col(TypeOid.text), rule('redact'), ctx)).toBe(masked);
  });
});

describe('maskValue: text-like types', () => {
  it.each([TypeOid.text, TypeOid.varchar, TypeOid.bpchar, TypeOid.name, TypeOid.xml, TypeOid.unknown])('oid %i masks in both formats', (oid) => {
    for (const format of [0, 1] as const) {
      expect(str(maskValue(b('alice@example.com'), col(oid, format), rule('redact'), ctx))).toBe('***');
      expect(str(maskValue(b('alice@example.com'), col(oid, format), rule('partial'), ctx))).toBe('a***@example.com');
      expect(str(maskValue(b('alice@example.com'), col(oid, format), rule('hash'), ctx))).toBe('hash:8647c46883247f15');
      expect(maskValue(b('alice@example.com'), col(oid, format), rule('null'), ctx)).toBeNull();
    }
  });

  it('detectors mask whole values and embedded spans', () => {
    expect(str(maskValue(b('alice@example.com   '), col(TypeOid.bpchar), detect('partial'), ctx))).toBe('a***@example.com   ');
    expect(str(maskValue(b('note: mail alice@example.com now'), col(TypeOid.text), detect('partial'), ctx))).toBe('note: mail a***@example.com now');
    expect(maskValue(b('note: mail alice@example.com now'), col(TypeOid.text), detect('null'), ctx)).toBeNull();
    expect(str(maskValue(b('Zoë — 4242 4242 4242 4242'), col(TypeOid.text, 1), detect('redact'), ctx))).toBe('Zoë — ***');
  });

  it('a column marked textLike (citext, enums) is masked as text', () => {
    expect(str(maskValue(b('alice@example.com'), col(99999, 1, true), rule('partial'), ctx))).toBe('a***@example.com');
  });
});

describe('maskValue: redact and null on text, read without a string', () => {
  it('gives what masking the value as a string gives, in both formats, the mask itself included', () => {
    const value = fc.oneof(fc.constantFrom('***', '', '**', '****', '\u00e9'), fc.string({ unit: 'binary' }));
    const bytes = fc.oneof(value.map((v) => b(v)), fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u))); // invalid UTF-8 too
    fc.assert(
      fc.property(bytes, fc.constantFrom<'redact' | 'null'>('redact', 'null'), fc.constantFrom<0 | 1>(0, 1), fc.constantFrom(TypeOid.text, TypeOid.varchar), (raw, strategy, format, typeOid) => {
        const s = raw.toString('utf8');
        const expected = maskText(s, 'text', rule(strategy), ctx);
        const out = maskValue(raw, col(typeOid, format), rule(strategy), ctx);
        if (expected === null) expect(out).toBeNull();
        else if (expected === s) expect(out).toBe(raw); // unchanged: the same buffer, forwarded as it came
        else expect(str(out)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('maskValue: partial on text, read as bytes where it can', () => {
  it('gives what masking the value as a string gives, spaces, shaped values and the mask itself included', () => {
    const ascii = fc.array(fc.constantFrom(...'0123456789 -+().@*abxyzDEGB_'.split('')), { maxLength: 30 }).map((a) => a.join(''));
    const value = fc.oneof(
      fc.constantFrom('***', 'a***b', ' c4ca4238a0b923820dcc509a6f75849b ', 'ab', 'DE89 3704 0044 0532 0130 00', 'gb82west12345698765432', '4242 4242 4242 4242', '+1 415-555-0100', 'alice@example.com', 'Zo\u00eb'),
      ascii,
      fc.string({ unit: 'binary' }),
    );
    const bytes = fc.oneof(value.map((v) => b(v)), fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u))); // invalid UTF-8 too
    fc.assert(
      fc.property(bytes, fc.constantFrom<0 | 1>(0, 1), fc.constantFrom(TypeOid.text, TypeOid.varchar), (raw, format, typeOid) => {
        const s = raw.toString('utf8');
        const expected = maskText(s, 'text', rule('partial'), ctx);
        const out = maskValue(raw, col(typeOid, format), rule('partial'), ctx);
        if (expected === s) expect(out).toBe(raw); // unchanged: the same buffer, forwarded as it came
        else expect(str(out)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('maskValue: json and jsonb stay valid JSON', () => {
  it.each([
    ['{"email":"alice@example.com"}', rule('redact'), '"***"'],
    ['"alice@example.com"', rule('partial'), '"a***@example.com"'],
    ['{"email":"alice@example.com"}', rule('partial'), '"{***}"'],
    ['"alice@example.com"', rule('hash'), '"hash:8647c46883247f15"'],
    ['[1,2]', rule('null'), null],
    ['"alice@example.com"', detect('partial'), '"a***@example.com"'],
    ['{"email":"alice@example.com","n":1}', detect('partial'), '{"email":"a***@example.com","n":1}'],
    ['{"note":"card 4242 4242 4242 4242"}', detect('redact'), '{"note":"card ***"}'],
    ['{"e":"\\u0041lice@example.com"}', detect('redact'), '"***"'], // a span cut an escape: the whole value is masked
    ['{"email":"alice@example.com"}', detect('null'), null],
  ] as const)('%s with %j', (json, action, expected) => {
    const text = maskValue(b(json), col(TypeOid.json), action, ctx);
    expect(str(text)).toBe(expected);
    if (text !== null) expect(() => JSON.parse(text.toString()) as unknown).not.toThrow();
    expect(str(maskValue(b(json), col(TypeOid.jsonb, 0), action, ctx))).toBe(expected);
  });

  it('binary jsonb keeps its version byte', () => {
    const raw = Buffer.concat([Buffer.from([1]), b('{"email":"alice@example.com"}')]);
    const out = maskValue(raw, col(TypeOid.jsonb, 1), detect('partial'), ctx);
    expect(out?.[0]).toBe(1);
    expect(out?.subarray(1).toString()).toBe('{"email":"a***@example.com"}');
    expect(maskValue(raw, col(TypeOid.jsonb, 1), rule('redact'), ctx)).toEqual(Buffer.concat([Buffer.from([1]), b('"***"')]));
  });

  it('binary jsonb of an unknown version or empty is NULL (fail closed)', () => {
    expect(maskValue(Buffer.concat([Buffer.from([2]), b('{}')]), col(TypeOid.jsonb, 1), detect(), ctx)).toBeNull();
    expect(maskValue(Buffer.alloc(0), col(TypeOid.jsonb, 1), detect(), ctx)).toBeNull();
  });
});

describe('maskValue: non-text types never get a string the client cannot parse', () => {
  it.each([
    [TypeOid.int4, 0, b('42')], [TypeOid.int4, 1, int32(42)], [TypeOid.numeric, 0, b('1.5')], [TypeOid.timestamptz, 0, b('2024-01-05 10:11:12+00')],
    [TypeOid.uuid, 1, Buffer.alloc(16)], [TypeOid.bytea, 0, b('\\x00')], [1009, 0, b('{a}')], [99999, 1, b('x')],
  ] as const)('a rule on oid %i format %i yields NULL', (oid, format, raw) => {
    for (const s of ['redact', 'partial', 'hash', 'null'] as const) expect(maskValue(raw, col(oid, format), rule(s), ctx)).toBeNull();
  });

  it('detectors read integers and numerics, text and binary', () => {
    expect(maskValue(b('4242424242424242'), col(TypeOid.int8), detect(), ctx)).toBeNull();
    expect(maskValue(int8be(4242424242424242n), col(TypeOid.int8, 1), detect(), ctx)).toBeNull();
    expect(maskValue(int8be(4242424242424241n), col(TypeOid.int8, 1), detect(), ctx)).not.toBeNull();
    const card = numeric([4242, 4242, 4242, 4242], 3, 0, 0);
    expect(maskValue(card, col(TypeOid.numeric, 1), detect(), ctx)).toBeNull();
    const notCard = numeric([4242, 4242, 4242, 4242], 3, 0, 2); // 4242424242424242.00: not a card
    expect(maskValue(notCard, col(TypeOid.numeric, 1), detect(), ctx)).toBe(notCard);
    expect(maskValue(b('4242424242424242'), col(TypeOid.numeric), detect(), ctx)).toBeNull();
  });

  it('detectors fail closed on binary integers and numerics they cannot read', () => {
    expect(maskValue(Buffer.alloc(3), col(TypeOid.int4, 1), detect(), ctx)).toBeNull();
    expect(maskValue(Buffer.alloc(7), col(TypeOid.numeric, 1), detect(), ctx)).toBeNull();
    expect(maskValue(numeric([10000], 0, 0, 0), col(TypeOid.numeric, 1), detect(), ctx)).toBeNull();
    const nan = numeric([], 0, 0xc000, 0);
    expect(maskValue(nan, col(TypeOid.numeric, 1), detect(), ctx)).toBe(nan);
  });

  it('detectors read arrays of text and numbers, text and binary', () => {
    expect(maskValue(b('{bob,alice@example.com}'), col(1009), detect(), ctx)).toBeNull();
    expect(maskValue(array1(TypeOid.text, [b('bob'), null, b('alice@example.com')]), col(1009, 1), detect(), ctx)).toBeNull();
    const clean = array1(TypeOid.text, [b('bob'), null]);
    expect(maskValue(clean, col(1009, 1), detect(), ctx)).toBe(clean);
    expect(maskValue(array1(TypeOid.int8, [int8be(4242424242424242n)]), col(1016, 1), detect(), ctx)).toBeNull();
    const ints = array1(TypeOid.int4, [int32(1), int32(2)]);
    expect(maskValue(ints, col(1007, 1), detect(), ctx)).toBe(ints);
    expect(maskValue(Buffer.concat([ints, Buffer.from([0])]), col(1007, 1), detect(), ctx)).toBeNull(); // malformed
    expect(maskValue(array1(99999, [b('x')]), col(1009, 1), detect(), ctx)).toBeNull(); // unreadable elements
  });

  it('unknown types are inspected in text format and NULL in binary under detectors', () => {
    expect(maskValue(b('alice@example.com'), col(99999), detect(), ctx)).toBeNull();
    expect(maskValue(b('("alice@example.com",1)'), col(99999), detect(), ctx)).toBeNull();
    const clean = b('(bob,1)');
    expect(maskValue(clean, col(99999), detect(), ctx)).toBe(clean);
    expect(maskValue(b('bob'), col(99999, 1), detect(), ctx)).toBeNull();
  });
});

describe('maskText', () => {
  const values = ['alice@example.com', 'hello world', '', '4242 4242 4242 4242', '12345', '{"a":"bob@example.org"}', '"alice@example.com"', '{bob,alice@example.com}', '2024-01-05', 'Zoë 😀'];
  const oids = [TypeOid.text, TypeOid.varchar, TypeOid.json, TypeOid.jsonb, TypeOid.int8, TypeOid.numeric, TypeOid.timestamp, 1009, 99999];
  const actions = [rule('redact'), rule('partial'), rule('hash'), rule('null'), detect('redact'), detect('partial'), detect('null')];

  it('is maskValue on a text-format value, read as a string (the same string back when nothing changed)', () => {
    for (const v of values) {
      for (const oid of oids) {
        for (const action of actions) {
          const raw = b(v);
          const bytes = maskValue(raw, col(oid), action, ctx);
          const text = maskText(v, typeClassOf({ typeOid: oid }), action, ctx);
          expect(text, `${v} ${oid} ${JSON.stringify(action)}`).toBe(str(bytes));
          if (bytes === raw) expect(text).toBe(v);
        }
      }
    }
  });
});
