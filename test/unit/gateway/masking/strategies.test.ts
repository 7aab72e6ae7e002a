import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyStrategy, maskEmbedded, MASK_STRATEGIES, partialMask, REDACTED } from '../../../../gateway/masking/index.js';
import { constantMask } from '../../../../gateway/masking/strategies.js';
import { isGenericAscii } from '../../../../gateway/masking/partial.js';
import type { DetectorName } from '../../../../gateway/masking/index.js';

const key = Buffer.from('k');
const ctx = { hashKey: key };

describe('redact and null', () => {
  it.each(['alice@example.com', '', 'x', '4242 4242 4242 4242'])('%j', (v) => {
    expect(applyStrategy('redact', v, ctx)).toBe('***');
    expect(REDACTED).toBe('***');
    expect(applyStrategy('null', v, ctx)).toBeNull();
  });
});

describe('constantMask', () => {
  it('is what applyStrategy gives every value, for exactly the strategies that ignore the value', () => {
    expect(MASK_STRATEGIES.filter((st) => constantMask(st) !== undefined)).toEqual(['redact', 'null']);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (v) => {
        expect(applyStrategy('redact', v, ctx)).toBe(constantMask('redact'));
        expect(applyStrategy('null', v, ctx)).toBe(constantMask('null'));
      }),
    );
  });
});

describe('partial', () => {
  it.each<[string, DetectorName | undefined, string]>([
    ['alice@example.com', 'email', 'a***@example.com'],
    ['alice@example.com', undefined, 'a***@example.com'],
    ['Bob.Smith+tag@mail.example.co.uk', undefined, 'B***@mail.example.co.uk'],
    ['jo@example.com', undefined, '***@example.com'],
    ['bob@localhost', undefined, 'b***t'], // not an address by the strict rules, and no dotted domain
    ['bob@corp.local', undefined, 'b***@corp.local'], // loose address shape for column rules
    ['4242 4242 4242 4242', undefined, '**** **** **** 4242'],
    ['4242-4242-4242-4242', 'credit_card', '****-****-****-4242'],
    ['4242424242424242', undefined, '************4242'],
    ['3782 822463 10005', undefined, '**** ****** *0005'],
    ['+1 415-555-0100', undefined, '+* ***-***-0100'],
    ['(415) 555-0100', 'phone', '(***) ***-0100'],
    ['+49 30 901820', undefined, '+** ** **1820'],
    ['+12345678', 'phone', '+******78'], // fewer than 10 digits: the last 2 stay
    ['DE89 3704 0044 0532 0130 00', undefined, 'DE** **** **** **** **30 00'],
    ['GB29NWBK60161331926819', 'iban', 'GB****************6819'],
    ['123-45-6789', undefined, '***-**-6789'],
    ['Alice Smith', undefined, 'A***h'],
    ['Zoë', undefined, '***'],
    ['abcd', undefined, '***'],
    ['abcde', undefined, 'a***e'],
    ['😀abc😀', undefined, '😀***😀'],
    [`ghp_${'a'.repeat(36)}`, undefined, 'g***a'],
    ['alice@example.com     ', undefined, 'a***@example.com     '], // char(n) padding kept
    ['', undefined, ''],
    ['   ', undefined, '   '],
  ])('%j (%s) -> %j', (value, detector, expected) => {
    expect(applyStrategy('partial', value, detector ? { hashKey: key, detector } : ctx)).toBe(expected);
    expect(partialMask(value, detector)).toBe(expected);
  });
});

describe('partial on values of no known shape', () => {
  /** The first and last code point around `***`, counted as `Array.from` counts them; ASCII whitespace around is kept. */
  function reference(value: string): string {
    const core = value.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
    if (core === '') return value;
    const cps = Array.from(core);
    const masked = cps.length <= 4 ? REDACTED : `${cps[0] ?? ''}${REDACTED}${cps[cps.length - 1] ?? ''}`;
    const from = value.indexOf(core);
    return value.slice(0, from) + masked + value.slice(from + core.length);
  }

  it('keeps the first and last code point, with surrogate pairs and lone surrogates, at every length', () => {
    const unit = fc.constantFrom('a', 'Z', 'é', '😀', '\ud800', '\udc00', ' ', '\t', '-');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 14 }).map((a) => a.join('')), (value) => {
        expect(partialMask(value)).toBe(reference(value));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('isGenericAscii (partial judged on bytes)', () => {
  /** partialMask's generic shape for an ASCII core: first and last character around `***`, or `***`. */
  const generic = (core: string): string => (core.length <= 4 ? REDACTED : `${core[0] ?? ''}${REDACTED}${core.at(-1) ?? ''}`);
  const judged = (core: string): boolean => {
    const b = Buffer.from(core, 'latin1');
    return isGenericAscii(b, 0, b.length);
  };
  // Valid values of every shape partialMask keeps, in the layouts the detectors accept (a lower-case IBAN too).
  const shaped = [
    'DE89370400440532013000', 'DE89 3704 0044 0532 0130 00', 'gb82west12345698765432', 'GB82 WEST 1234 5698 7654 32',
    '4242 4242 4242 4242', '4242424242424242', '378282246310005', '123-45-6789', '+1 415-555-0100', '(415) 555-0100',
    '415.555.0100', '+44 (0)20 7946 0958', '020 7946 0958', 'alice@example.com', 'a@b.co', 'x@y',
  ];

  it('says generic only where partialMask gives the generic shape', () => {
    const alphabet = fc.constantFrom(...'0123456789 -+().@*abcxyzDEGBWST_~'.split(''));
    const core = fc.oneof(
      fc.constantFrom(...shaped),
      fc.array(alphabet, { minLength: 1, maxLength: 30 }).map((a) => a.join('')),
      // Shaped values with one character changed: a letter in a card number, a digit in a name.
      fc.tuple(fc.constantFrom(...shaped), fc.nat(), alphabet).map(([v, i, c]) => v.slice(0, i % v.length) + c + v.slice((i % v.length) + 1)),
    ).filter((c) => c.trim() === c && c !== '');
    fc.assert(
      fc.property(core, (c) => {
        if (judged(c)) expect(partialMask(c)).toBe(generic(c));
      }),
      { numRuns: 5000 },
    );
  });

  it('takes hex digests, ids and names as generic, and no shaped value or non-printable byte', () => {
    for (const v of ['c4ca4238a0b923820dcc509a6f75849b', 'ord_3kx9a', 'Alice Smith', 'a***b', 'x', 'Hello, world']) {
      expect(judged(v)).toBe(true);
      expect(partialMask(v)).toBe(generic(v));
    }
    for (const v of shaped) expect(judged(v)).toBe(false);
    for (const v of ['1234', '2024-01-05', 'Zoë', 'a\tb', 'del\x7f']) expect(judged(v)).toBe(false);
  });
});

describe('hash', () => {
  it('is a keyed HMAC-SHA256 prefix, deterministic, and depends on the key', () => {
    const h = applyStrategy('hash', 'alice@example.com', ctx);
    expect(h).toBe('hash:8647c46883247f15');
    expect(h).toBe(`hash:${createHmac('sha256', key).update('alice@example.com').digest('hex').slice(0, 16)}`);
    expect(applyStrategy('hash', 'alice@example.com', ctx)).toBe(h);
    expect(applyStrategy('hash', 'alice@example.com', { hashKey: Buffer.from('other') })).not.toBe(h);
    expect(applyStrategy('hash', 'alice@example.org', ctx)).not.toBe(h);
    expect(applyStrategy('hash', '', ctx)).toMatch(/^hash:[0-9a-f]{16}$/);
  });
});

describe('maskEmbedded', () => {
  const all: DetectorName[] = ['email', 'credit_card', 'iban', 'us_ssn', 'phone', 'secret'];
  const text = 'Ticket from alice@example.com: card 4242 4242 4242 4242, call +1 415-555-0100.';

  it.each([
    ['redact', 'Ticket from ***: card ***, call ***.'],
    ['partial', 'Ticket from a***@example.com: card **** **** **** 4242, call +* ***-***-0100.'],
    ['hash', `Ticket from hash:8647c46883247f15: card ${applyStrategy('hash', '4242 4242 4242 4242', ctx) ?? ''}, call ${applyStrategy('hash', '+1 415-555-0100', ctx) ?? ''}.`],
  ] as const)('%s replaces only the spans', (strategy, expected) => {
    expect(maskEmbedded(text, all, strategy, ctx)).toEqual({ text: expected, count: 3 });
  });

  it('null nulls the whole value when anything is found', () => {
    expect(maskEmbedded(text, all, 'null', ctx)).toEqual({ text: null, count: 3 });
  });

  it('uses only the detectors asked for', () => {
    expect(maskEmbedded(text, ['email'], 'redact', ctx)).toEqual({
      text: 'Ticket from ***: card 4242 4242 4242 4242, call +1 415-555-0100.',
      count: 1,
    });
  });

  it('returns the same text and a zero count when nothing is found', () => {
    const plain = 'nothing to see on 2024-01-05';
    const r = maskEmbedded(plain, all, 'null', ctx);
    expect(r).toEqual({ text: plain, count: 0 });
  });
});
