/**
 * International Bank Account Numbers (ISO 13616): a country code, two check digits and a BBAN, with exactly the
 * length the country uses and an ISO 7064 MOD 97-10 remainder of 1.
 *
 * Accepted layouts: compact (`DE89370400440532013000`) or in groups of four separated by single spaces
 * (`DE89 3704 0044 0532 0130 00`). Letters may be upper or lower case. The country's BBAN structure (which
 * positions are letters) is not checked: the length and the checksum already reject all but 1 in 97 look-alikes.
 *
 * @see https://www.swift.com/standards/data-standards/iban-international-bank-account-number
 */
import { isAlnum, isAlpha, isDigit, isUpper, isWord, wholeValue } from './chars.js';
import type { Span } from './chars.js';

/** IBAN length per country, from the SWIFT IBAN registry. */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
  IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
  LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
  NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24,
  SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

// Country lengths indexed by (letter1 * 26 + letter2), 0 = not an IBAN country: one array read per value.
const LENGTH_BY_CODE = new Uint8Array(26 * 26);
for (const [cc, len] of Object.entries(IBAN_LENGTHS)) {
  LENGTH_BY_CODE[(cc.charCodeAt(0) - 65) * 26 + (cc.charCodeAt(1) - 65)] = len;
}

function upper(c: number): number {
  return c >= 97 ? c - 32 : c;
}

/** The IBAN length for the two letters at `at` (any case), or 0. */
export function ibanLength(s: string, at: number): number {
  const a = s.charCodeAt(at);
  const b = s.charCodeAt(at + 1);
  if (!isAlpha(a) || !isAlpha(b)) return 0;
  return LENGTH_BY_CODE[(upper(a) - 65) * 26 + (upper(b) - 65)] ?? 0;
}

function mod97Step(r: number, c: number): number {
  if (isDigit(c)) return (r * 10 + (c - 48)) % 97;
  return (r * 100 + (upper(c) - 55)) % 97; // A = 10 … Z = 35
}

/**
 * Where an IBAN of the expected length starting at `from` ends, following its grouping, or -1. It reads at most
 * `limit` and does not look past the last character.
 */
function ibanEnd(s: string, from: number, limit: number, expected: number): number {
  // Grouped if a space follows the first four characters.
  const grouped = from + 4 < limit && s.charCodeAt(from + 4) === 32;
  let count = 0;
  let i = from;
  while (i < limit && count < expected) {
    const c = s.charCodeAt(i);
    if (isAlnum(c)) {
      count++;
      i++;
      // Grouped: every fourth character is followed by a space, except at the end.
      if (grouped && count % 4 === 0 && count < expected && !(i < limit && s.charCodeAt(i) === 32)) return -1;
    } else if (c === 32 && grouped && count % 4 === 0 && i + 1 < limit && isAlnum(s.charCodeAt(i + 1))) {
      i++;
    } else {
      return -1;
    }
  }
  return count === expected ? i : -1;
}

/** Whether `s[from, to)` is exactly one IBAN. */
export function ibanAt(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 15 || len > 42) return false;
  const expected = ibanLength(s, from);
  if (expected === 0) return false;
  const c2 = s.charCodeAt(from + 2);
  const c3 = s.charCodeAt(from + 3);
  if (!isDigit(c2) || !isDigit(c3)) return false;
  const check = (c2 - 48) * 10 + (c3 - 48);
  if (check < 2 || check > 98) return false;
  if (ibanEnd(s, from, to, expected) !== to) return false;
  let r = 0;
  for (let i = from + 4; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32) r = mod97Step(r, c);
  }
  for (let i = from; i < from + 4; i++) r = mod97Step(r, s.charCodeAt(i));
  return r === 1;
}

/** {@link isIban} once the value's surrounding whitespace is known: `value[from, to)` is what it surrounds. */
export function ibanWhole(value: string, from: number, to: number): boolean {
  if (value.length < 15) return false;
  return ibanAt(value, from, to);
}

/** Whether the whole value (ignoring surrounding whitespace) is an IBAN. */
export function isIban(value: string): boolean {
  return wholeValue(value, ibanWhole);
}

/** Appends the IBANs found inside free text to `out` (upper-case country code only, to keep prose out). */
export function findIbans(text: string, out: Span[]): void {
  const n = text.length;
  for (let i = 0; i + 15 <= n; i++) {
    if (!isUpper(text.charCodeAt(i)) || !isUpper(text.charCodeAt(i + 1)) || !isDigit(text.charCodeAt(i + 2)) || !isDigit(text.charCodeAt(i + 3))) continue;
    if (i > 0 && isWord(text.charCodeAt(i - 1))) continue;
    const expected = ibanLength(text, i);
    if (expected === 0) continue;
    const end = ibanEnd(text, i, n, expected);
    if (end < 0 || (end < n && isWord(text.charCodeAt(end)))) continue;
    if (ibanAt(text, i, end)) {
      out.push({ start: i, end });
      i = end - 1;
    }
  }
}
