/**
 * US Social Security numbers written `AAA-GG-SSSS`.
 *
 * Dashes are required: a bare 9-digit number is as likely to be an id, a zip+4 or an amount, and flagging those
 * would make the detector useless on numeric columns. Never-issued numbers are rejected: area 000, 666 or 900–999,
 * group 00, serial 0000, and the two famous invalid ones (078-05-1120 from a wallet insert, 219-09-9999 from an
 * advertisement).
 *
 * @see https://www.ssa.gov/employer/randomization.html
 */
import { isDigit, isWord, wholeValue } from './chars.js';
import type { Span } from './chars.js';

function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** Whether `s[from, to)` is exactly one SSN. */
export function usSsnAt(s: string, from: number, to: number): boolean {
  if (to - from !== 11 || s.charCodeAt(from + 3) !== 45 || s.charCodeAt(from + 6) !== 45) return false;
  const area = digits(s, from, 3);
  const group = digits(s, from + 4, 2);
  const serial = digits(s, from + 7, 4);
  if (area <= 0 || group <= 0 || serial <= 0) return false; // -1 = not digits, 0 = never issued
  if (area === 666 || area >= 900) return false;
  if (area === 78 && group === 5 && serial === 1120) return false;
  if (area === 219 && group === 9 && serial === 9999) return false;
  return true;
}

/** {@link isUsSsn} once the value's surrounding whitespace is known: `value[from, to)` is what it surrounds. */
export function usSsnWhole(value: string, from: number, to: number): boolean {
  if (value.length < 11) return false;
  return usSsnAt(value, from, to);
}

/** Whether the whole value (ignoring surrounding whitespace) is an SSN. */
export function isUsSsn(value: string): boolean {
  return wholeValue(value, usSsnWhole);
}

function freeAround(c: number): boolean {
  return !isWord(c) && c !== 45; // not a word character, not another dash-joined number
}

/** Appends the SSNs found inside free text to `out`. */
export function findUsSsns(text: string, out: Span[]): void {
  if (text.length < 11) return;
  let dash = text.indexOf('-', 3);
  while (dash >= 0 && dash + 8 <= text.length) {
    const start = dash - 3;
    const end = start + 11;
    if (
      usSsnAt(text, start, end) &&
      (start === 0 || freeAround(text.charCodeAt(start - 1))) &&
      (end === text.length || freeAround(text.charCodeAt(end)))
    ) {
      out.push({ start, end });
      dash = text.indexOf('-', end);
    } else {
      dash = text.indexOf('-', dash + 1);
    }
  }
}
