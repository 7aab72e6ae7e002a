import { describe, expect, it } from 'vitest';
import { DETECTOR_NAMES, DETECTORS, detectWhole, findSpans } from '../../../../gateway/masking/index.js';
import type { DetectorName } from '../../../../gateway/masking/index.js';
import { labelledSet } from '../../../fixtures/masking/labelled.js';

const JWT_HS256 =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

const TABLE: Record<DetectorName, { yes: string[]; no: string[] }> = {
  email: {
    yes: [
      'alice@example.com', 'Bob.Smith+tag@mail.example.co.uk', 'x_y-z%1@a-b.example.io', '  alice@example.com   ',
      'ALICE@EXAMPLE.COM', 'a@b.co', 'user@example.xn--p1ai', '123@example.museum',
    ],
    no: [
      '', 'alice', 'user@localhost', 'alice@example', 'a@b.c', '@handle', 'alice@', 'alice@@example.com', '.alice@example.com',
      'alice.@example.com', 'al..ice@example.com', 'alice@example..com', 'alice@-example.com', 'alice@example-.com',
      'alice@example.c0m', 'alice@192.168.1.1', 'alice smith@example.com', 'mail alice@example.com', 'alice@example.com.',
      'a@b@example.com', 'meet @ 5pm', `${'a'.repeat(65)}@example.com`, 'alice@[10.0.0.1]',
    ],
  },
  credit_card: {
    yes: [
      '4242424242424242', '4242 4242 4242 4242', '4242-4242-4242-4242', '4222222222222', '4111111111111111110',
      '5555555555554444', '2223003122003222', '378282246310005', '3782 822463 10005', '3714-496353-98431',
      '6011111111111117', '6445644564456445', '6500000000000002', '3530111333300000', '30569309025904', '3056 930902 5904',
      '36227206271667', '6200000000000005', '6011 0009 9013 9424', ' 4242424242424242 ',
    ],
    no: [
      '4242424242424241', // Luhn fails
      '1234567812345670', // Luhn-valid, unknown prefix
      '9999999999999995', '0000000000000000', '2000000000000008', // Luhn-valid, unknown prefix
      '424242424242424', // Visa prefix at 15 digits
      '3782822463100050', // Amex prefix at 16 digits
      '4242 4242 4242 424 2', '4242  4242 4242 4242', '4242-4242 4242-4242', '42424242 42424242', '4242.4242.4242.4242',
      '4242 4242 4242 4242 1', '4242424242424242x', '+4242424242424242', '12345', '2024-01-05',
    ],
  },
  iban: {
    yes: [
      'DE89370400440532013000', 'DE89 3704 0044 0532 0130 00', 'GB29NWBK60161331926819', 'GB29 NWBK 6016 1331 9268 19',
      'FR1420041010050500013M02606', 'NO9386011117947', 'BE68539007547034', 'MT84MALT011000012345MTLCAST001S',
      'de89370400440532013000', 'LC55HEMM000100010012001200023015',
    ],
    no: [
      'DE89370400440532013001', 'DE88370400440532013000', 'DE8937040044053201300', 'DE893704004405320130000',
      'XX89370400440532013000', 'DE89 37040044 0532013000', 'DE89-3704-0044-0532-0130-00', 'DE89  3704 0044 0532 0130 00',
      'DE00370400440532013000', 'DE 89 3704', 'DEUTSCHLAND12345', 'GB29 NWBK 6016 1331 9268 1',
    ],
  },
  us_ssn: {
    yes: ['123-45-6789', '001-01-0001', '899-99-9999', ' 123-45-6789 ', '665-12-3456', '667-12-3456'],
    no: [
      '000-12-3456', '666-12-3456', '900-12-3456', '999-12-3456', '123-00-6789', '123-45-0000', '078-05-1120', '219-09-9999',
      '123456789', '123 45 6789', '123-456-789', '12-345-6789', '123-45-67890', 'a23-45-6789',
    ],
  },
  phone: {
    yes: [
      '+14155550100', '+1 415-555-0100', '+1 (415) 555-0100', '(415) 555-0100', '(415)555-0100', '415-555-0100',
      '415.555.0100', '415 555 0100', '1-800-555-0100', '1 (800) 555-0100', '+44 20 7946 0958', '+44 (0)20 7946 0958',
      '020 7946 0958', '07700 900123', '+33 1 23 45 67 89', '01 23 45 67 89', '06.12.34.56.78', '+49 30 901820',
      '(030) 12345678', '0151 23456789', '+81 3-1234-5678', '03-1234-5678', '+61 2 9374 4000', '+91 98765 43210',
      '+1.415.555.0100', '06-12345678', '+55 11 91234-5678',
    ],
    no: [
      '1234567890', '4155550100', '14155550100', '2024-01-05', '05/01/2024', '05.01.2024', '2024-01-05 10:11:12',
      '2024-01-05T10:11:12Z', '192.168.1.1', '010.001.002.003', '1.2.3', '10.0.19041.1', '0.12.3', '3.14159',
      '+123456789.50', '4242 4242 4242 4242', '123-45-6789', '078-05-1120', '02134-1234', '123-456-7890', '555-0100',
      '+1234567', '+12345678901234567', '0044 20 7946 0958', '+1 415-555-0100 x123', '0-306-40615-2', '(415) 555-0100)',
      '415-555-0100-', '+(1) 415 555 0100', '415 - 555 - 0100', '01 23 45', '+0 123 456 789',
    ],
  },
  secret: {
    yes: [
      JWT_HS256, `${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`, 'AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
      '-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----',
      'Bearer abcdefghijklmnop1234', `Bearer ${JWT_HS256}`, 'bearer dGhpcyBpcyBhIHRva2Vu==',
      `ghp_${'a1B2'.repeat(9)}`, `ghs_${'Z9'.repeat(18)}`, `github_pat_${'A'.repeat(22)}_${'b'.repeat(59)}`,
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'xoxp-1234-5678-abcdef', `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`,
      `rk_live_${'x'.repeat(24)}`,
    ],
    no: [
      'eyJmb28iOiJiYXIifQ', `${b64({ typ: 'JWT' })}.${b64({ sub: 'x' })}.sig`, `${b64('not json')}.${b64({ sub: 'x' })}.sig`,
      `${b64({ alg: 'HS256' })}.notjson.sig`, `${JWT_HS256}.extra`, 'AKIAIOSFODNN7EXAMPL', 'AKIAIOSFODNN7EXAMPLE1', 'akiaiosfodnn7example',
      'AIDAIOSFODNN7EXAMPLE', 'AKIAiosfodnn7example', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----', '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END PUBLIC KEY-----',
      'Bearer of bad news', 'Bearer short', 'Bearer', `ghp_${'a'.repeat(35)}`, `ghx_${'a'.repeat(36)}`, 'github_pat_short',
      `sk_test_${'x'.repeat(24)}`, `pk_live_${'x'.repeat(24)}`, 'sk_live_short', 'xoxb123456789012', 'xoxz-123456789012-abc',
      'xoxb-abcdefghijklmnop', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    ],
  },
};

describe.each(DETECTOR_NAMES)('%s detector', (name) => {
  const { yes, no } = TABLE[name];
  it.each(yes)('flags %j', (v) => {
    expect(DETECTORS[name](v)).toBe(true);
    // Exactly one detector claims each positive.
    expect(DETECTOR_NAMES.filter((n) => DETECTORS[n](v))).toEqual([name]);
  });
  it.each(no)('does not flag %j', (v) => {
    expect(DETECTORS[name](v)).toBe(false);
  });
});

describe('detectWhole', () => {
  it('names the matching detector among those asked', () => {
    expect(detectWhole('alice@example.com')).toBe('email');
    expect(detectWhole('alice@example.com', ['credit_card'])).toBeNull();
    expect(detectWhole('hello')).toBeNull();
  });

  it('over every detector, answers what asking each detector in order answers (whitespace around, short tokens)', () => {
    const inOrder = (v: string): DetectorName | null => DETECTOR_NAMES.find((n) => DETECTORS[n](v)) ?? null;
    const values = [
      ...labelledSet().map((i) => i.value),
      'xoxb-1234567890', '  xoxb-1234567890  ', 'xoxb-123456789012345', ' alice@example.com\t', '\n4242 4242 4242 4242 ',
      '', ' ', 'a@b.co', '123-45-6789', ' +1 415-555-0100', 'c4ca4238a0b923820dcc509a6f75849b',
    ];
    for (const v of values) {
      expect(detectWhole(v), JSON.stringify(v)).toBe(inOrder(v));
      expect(detectWhole(v, [...DETECTOR_NAMES])).toBe(inOrder(v));
    }
  });
});

function spans(text: string, names?: DetectorName[]): [DetectorName, string][] {
  return findSpans(text, names).map((s) => [s.detector, text.slice(s.start, s.end)]);
}

describe('finding embedded values', () => {
  it('finds every kind inside prose, with sentence punctuation left out', () => {
    const text = 'Mail alice@example.com, call +1 415-555-0100 or (415) 555-0101. Card 4242 4242 4242 4242. SSN 123-45-6789; '
      + `IBAN DE89 3704 0044 0532 0130 00 and key AKIAIOSFODNN7EXAMPLE. Auth: Bearer abcdefghijklmnop1234.`;
    expect(spans(text)).toEqual([
      ['email', 'alice@example.com'],
      ['phone', '+1 415-555-0100'],
      ['phone', '(415) 555-0101'],
      ['credit_card', '4242 4242 4242 4242'],
      ['us_ssn', '123-45-6789'],
      ['iban', 'DE89 3704 0044 0532 0130 00'],
      ['secret', 'AKIAIOSFODNN7EXAMPLE'],
      ['secret', 'Bearer abcdefghijklmnop1234'],
    ]);
  });

  it('finds values in JSON text and after escapes', () => {
    expect(spans('{"email":"alice@example.com","n":[1,2]}')).toEqual([['email', 'alice@example.com']]);
    expect(spans('"line1\\nbob@example.org"')).toEqual([['email', 'bob@example.org']]);
    expect(spans('{"card":"4242424242424242"}')).toEqual([['credit_card', '4242424242424242']]);
  });

  it('leaves near-misses in prose alone', () => {
    for (const text of [
      'Released 2024-01-05 10:11:12 on 192.168.1.1, version 10.0.19041.1',
      'order 4242424242424241 shipped; ref 1234567890; total 1,234,567.89',
      'user@localhost wrote @channel at 05/01/2024',
      'ID123-45-6789 and 123-45-67890 and x4242424242424242',
      'zip 02134-1234, ISBN 0-306-40615-2, call ext 5550100',
    ]) {
      expect(spans(text)).toEqual([]);
    }
  });

  it('keeps the outer span when spans overlap', () => {
    const text = `Authorization: Bearer ${JWT_HS256}`;
    expect(spans(text)).toEqual([['secret', `Bearer ${JWT_HS256}`]]);
  });

  it('masks a private key block to the end of the text when its END line is missing', () => {
    const text = 'key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI';
    expect(spans(text)).toEqual([['secret', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI']]);
  });

  it('finds a card in parentheses and a phone between brackets', () => {
    expect(spans('(4242 4242 4242 4242)')).toEqual([['credit_card', '4242 4242 4242 4242']]);
    expect(spans('[+44 20 7946 0958]')).toEqual([['phone', '+44 20 7946 0958']]);
  });

  it.each(DETECTOR_NAMES)('%s: every whole-value positive is found as one span', (name) => {
    for (const v of TABLE[name].yes) {
      const text = v.trim();
      if (name === 'iban' && text !== text.toUpperCase()) continue; // embedded IBANs are upper case only
      expect(findSpans(`x ${text} y`, [name]), v).toEqual([{ start: 2, end: 2 + text.length, detector: name }]);
    }
  });
});
