/**
 * Payment card numbers (PAN): 13–19 digits that pass the Luhn check AND start with a known issuer prefix (IIN)
 * at a length that issuer uses.
 *
 * Accepted layouts: digits only; or groups split by single spaces or by single dashes (one kind per value) in
 * fours with a shorter last group (`4242 4242 4242 4242`, `6011-0000-0000-0000-004`), Amex 4-6-5 or Diners 4-6-4.
 *
 * A Luhn-valid number with an unknown prefix is not a card, and neither is a number whose length its prefix does
 * not use. A random 16-digit integer that happens to start with a card prefix still passes one time in ten: that
 * is the limit of any content check on bare digits.
 *
 * @see https://en.wikipedia.org/wiki/Payment_card_number
 */
import { findNumberish } from './numberish.js';
import { isDigit, wholeValue } from './chars.js';
import type { Span } from './chars.js';

/** Whether a card brand issues `len`-digit numbers starting with these digits (`p4` = first four as a number). */
export function knownIssuer(p4: number, len: number): boolean {
  const p1 = Math.floor(p4 / 1000);
  const p2 = Math.floor(p4 / 100);
  const p3 = Math.floor(p4 / 10);
  if (p1 === 4) return len === 13 || len === 16 || len === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return len === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return len === 15; // American Express
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65) return len >= 16 && len <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return len >= 16 && len <= 19; // JCB
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14 && len <= 19; // Diners Club
  if (p2 === 62) return len >= 16 && len <= 19; // UnionPay
  return false;
}

/** Whether `s[from, to)` is exactly one card number. */
export function creditCardAt(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 13 || len > 23) return false;
  let digits = 0;
  let sumEvenDoubled = 0; // Luhn sum if digits at even positions (from the left) are doubled
  let sumOddDoubled = 0;
  let p4 = 0;
  let sep = 0;
  let groups = 0;
  let group = 0;
  let g0 = 0;
  let g1 = 0;
  let fours = true; // every group before the current one has four digits
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      const d = c - 48;
      const dd = d < 5 ? d * 2 : d * 2 - 9;
      if ((digits & 1) === 0) {
        sumEvenDoubled += dd;
        sumOddDoubled += d;
      } else {
        sumEvenDoubled += d;
        sumOddDoubled += dd;
      }
      if (digits < 4) p4 = p4 * 10 + d;
      digits++;
      group++;
    } else if (c === 32 || c === 45) {
      if (group === 0 || (sep !== 0 && c !== sep)) return false;
      sep = c;
      if (groups === 0) g0 = group;
      else if (groups === 1) g1 = group;
      if (group !== 4) fours = false;
      groups++;
      group = 0;
    } else {
      return false;
    }
  }
  if (group === 0 || digits < 13 || digits > 19) return false;
  if (groups > 0) {
    const amexOrDiners = groups === 2 && g0 === 4 && g1 === 6 && (group === 5 || group === 4);
    if (!amexOrDiners && !(fours && group <= 4)) return false;
  }
  const sum = (digits & 1) === 0 ? sumEvenDoubled : sumOddDoubled;
  return sum % 10 === 0 && knownIssuer(p4, digits);
}

/** {@link isCreditCard} once the value's surrounding whitespace is known: `value[from, to)` is what it surrounds. */
export function creditCardWhole(value: string, from: number, to: number): boolean {
  if (value.length < 13) return false;
  return creditCardAt(value, from, to);
}

/** Whether the whole value (ignoring surrounding whitespace) is a card number. */
export function isCreditCard(value: string): boolean {
  return wholeValue(value, creditCardWhole);
}

/** Appends the card numbers found inside free text to `out`. */
export function findCreditCards(text: string, out: Span[]): void {
  if (text.length < 13) return;
  findNumberish(text, out, { minDigits: 13, maxDigits: 19, maxLength: 23, validate: creditCardAt });
}
