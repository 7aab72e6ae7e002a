import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalize, isCanonicalizable } from '../../../../shared/audit/canonical.js';
import { isHoopError } from '../../../../shared/errors.js';

describe('canonicalize (RFC 8785)', () => {
  it('matches the RFC\'s own example (§3.2.2)', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ) as unknown;
    expect(canonicalize(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (§3.2.3), recursively, with no whitespace', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const keys = Object.keys(JSON.parse(canonicalize(input)) as object);
    // JSON.parse puts "1" first (an integer-like key); check the text order instead.
    expect(keys).toHaveLength(7);
    const text = canonicalize(input);
    const order = ['\\r', '1', '\u0080', 'ö', '€', '😀', '\ufb33'].map((k) => text.indexOf(`"${k}"`));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(canonicalize({ b: { d: 1, c: [{ z: 1, a: 2 }] }, a: 'x' })).toBe('{"a":"x","b":{"c":[{"a":2,"z":1}],"d":1}}');
  });

  it.each([
    [0, '0'], [-0, '0'], [1, '1'], [-1.5, '-1.5'], [1e21, '1e+21'], [1e20, '100000000000000000000'], [1e-7, '1e-7'],
    [0.000001, '0.000001'], [9007199254740992, '9007199254740992'], [1.7976931348623157e308, '1.7976931348623157e+308'],
    [5e-324, '5e-324'], [0.1 + 0.2, '0.30000000000000004'], [123456789012345680000, '123456789012345680000'],
  ])('writes the number %s as %s', (n, text) => {
    expect(canonicalize(n)).toBe(text);
  });

  it('escapes strings as JSON.stringify does and keeps non-ASCII as is', () => {
    expect(canonicalize('a"b\\c\n\t\u0001\u001f\u007f é 😀 \u2028')).toBe('"a\\"b\\\\c\\n\\t\\u0001\\u001f\u007f é 😀 \u2028"');
    expect(canonicalize('\u0000')).toBe('"\\u0000"');
  });

  it.each([
    ['NaN', NaN], ['Infinity', Infinity], ['undefined', undefined], ['a nested undefined', { a: undefined }],
    ['an array hole', new Array<number>(3)], ['a bigint', 1n], ['a function', () => 1], ['a symbol', Symbol('x')],
    ['a Date', new Date(0)], ['a Map', new Map()], ['a lone high surrogate', '\ud800'], ['a lone low surrogate', 'x\udc00'],
    ['a lone surrogate in a key', { '\ud83d': 1 }],
  ])('refuses %s with a HoopError naming the path', (_name, value) => {
    let err: unknown;
    try {
      canonicalize({ deep: [value] });
    } catch (e) {
      err = e;
    }
    expect(isHoopError(err)).toBe(true);
    expect((err as Error).message).toContain('$.deep[0]');
    expect(isCanonicalizable({ deep: [value] })).toBe(false);
  });

  it('accepts objects without a prototype', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalize(o)).toBe('{"a":2,"b":1}');
  });

  it('is stable under a JSON round trip (property)', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const once = canonicalize(v);
      expect(canonicalize(JSON.parse(once))).toBe(once);
      expect(JSON.parse(once)).toEqual(JSON.parse(JSON.stringify(v)));
    }));
  });
});
