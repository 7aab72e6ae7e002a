/**
 * Telephone numbers, in shapes people write them, and nothing that merely has enough digits.
 *
 * Accepted:
 * - international: `+`, then 8–15 digits (E.164), compact (`+14155550100`) or grouped by single spaces, dashes
 *   or dots, with at most one parenthesised group (`+1 (415) 555-0100`, `+44 (0)20 7946 0958`). A grouped number
 *   starts with a 1–3 digit country code; no group is longer than 8 digits.
 * - North American: `415-555-0100`, `415.555.0100`, `415 555 0100`, `(415) 555-0100`, `1-800-555-0100`, with
 *   the NANP rules (area code and exchange start with 2–9).
 * - national with a trunk `0`: `020 7946 0958`, `01 23 45 67 89`, `(030) 901820`, `06-12345678`: 9–13 digits,
 *   at least two groups, a first group of 2–5 digits, the second digit not 0.
 *
 * Rejected: bare digit strings without `+` (`4155550100`: ids and amounts look the same), a single `.` (a
 * decimal), anything with letters, `:`, `/` or `,` (times, dates, lists), dotted quads (IPv4), `DDD-DD-DDDD`
 * (the SSN shape), `DDDDD-DDDD` (US zip+4), `00` international prefixes, and extensions (`x123`).
 */
import { findNumberish } from './numberish.js';
import { isDigit, wholeValue } from './chars.js';
import type { Span } from './chars.js';

const MAX_GROUPS = 8;

/** What {@link parse} learnt about a candidate; group lengths go to a separate array. */
interface Shape {
  plus: boolean;
  groups: number;
  digits: number;
  parenGroup: number; // index of the parenthesised group, or -1
  dots: number;
  dashes: number;
  spaces: number;
  firstDigit: number;
  secondDigit: number;
}

/**
 * Parses `[+]group(sep group)*` where a group is digits or `(digits)` and a separator is one space, dash or dot
 * (none is needed after a closing parenthesis). Returns false on any other shape. Group lengths go to `lens`.
 */
function parse(s: string, from: number, to: number, lens: number[], shape: Shape): boolean {
  let i = from;
  shape.plus = s.charCodeAt(i) === 43;
  if (shape.plus) i++;
  shape.groups = 0;
  shape.digits = 0;
  shape.parenGroup = -1;
  shape.dots = 0;
  shape.dashes = 0;
  shape.spaces = 0;
  shape.firstDigit = -1;
  shape.secondDigit = -1;
  for (;;) {
    if (shape.groups === MAX_GROUPS) return false;
    const paren = s.charCodeAt(i) === 40;
    if (paren) {
      if (shape.parenGroup >= 0) return false;
      shape.parenGroup = shape.groups;
      i++;
    }
    let n = 0;
    for (let c = s.charCodeAt(i); i < to && isDigit(c); c = s.charCodeAt(++i)) {
      if (shape.digits === 0) shape.firstDigit = c - 48;
      else if (shape.digits === 1) shape.secondDigit = c - 48;
      shape.digits++;
      n++;
    }
    if (n === 0) return false;
    lens[shape.groups++] = n;
    if (paren) {
      if (i >= to - 1 || s.charCodeAt(i) !== 41) return false; // closed, and not the last group
      i++;
      if (isDigit(s.charCodeAt(i))) continue; // "(415)555-0100"
    } else if (i === to) {
      return true;
    }
    const c = s.charCodeAt(i);
    if (c === 32) shape.spaces++;
    else if (c === 45) shape.dashes++;
    else if (c === 46) shape.dots++;
    else return false;
    if (++i >= to) return false;
  }
}

function nanp(lens: number[], shape: Shape, first: number): boolean {
  // [1] AAA EEE NNNN, area and exchange starting with 2–9. `first` is the index of the area-code group.
  if (lens[first] !== 3 || lens[first + 1] !== 3 || lens[first + 2] !== 4) return false;
  return shape.groups === first + 3;
}

function phoneShapeOk(s: string, from: number, to: number, lens: number[], shape: Shape): boolean {
  const len = to - from;
  if (len < 9 || len > 25) return false;
  if (!parse(s, from, to, lens, shape)) return false;
  if (shape.dots === 1 || (shape.dots > 0 && shape.dashes + shape.spaces > 0)) return false;
  let maxGroup = 0;
  for (let g = 0; g < shape.groups; g++) maxGroup = Math.max(maxGroup, lens[g] ?? 0);
  if (shape.plus) {
    if (shape.digits < 8 || shape.digits > 15 || shape.firstDigit === 0) return false;
    if (shape.groups === 1) return shape.parenGroup < 0;
    return (lens[0] ?? 0) <= 3 && shape.parenGroup !== 0 && maxGroup <= 8;
  }
  if (shape.groups < 2 || maxGroup > 8) return false;
  // North American, optionally with the leading 1.
  const lead1 = shape.groups === 4 && lens[0] === 1 && shape.firstDigit === 1 && shape.parenGroup !== 0;
  const first = lead1 ? 1 : 0;
  if (nanp(lens, shape, first) && (shape.parenGroup < 0 || shape.parenGroup === first) && areaAndExchangeOk(s, from, to, first)) {
    return true;
  }
  // National with a trunk 0.
  if (shape.firstDigit !== 0 || shape.secondDigit === 0) return false;
  if (shape.digits < 9 || shape.digits > 13) return false;
  const g0 = lens[0] ?? 0;
  if (g0 < 2 || g0 > 5 || shape.parenGroup > 0) return false;
  if (shape.groups === 3 && g0 === 3 && lens[1] === 2 && lens[2] === 4 && shape.dashes === 2) return false; // SSN shape
  if (shape.groups === 2 && g0 === 5 && lens[1] === 4 && shape.dashes === 1) return false; // zip+4
  if (shape.dots > 0 && shape.groups === 4 && maxGroup <= 3) return false; // dotted quad
  return true;
}

/** Area code and exchange of a NANP number start with 2–9. `areaAt` counts digits before the area code. */
function areaAndExchangeOk(s: string, from: number, to: number, areaAt: number): boolean {
  let d = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) continue;
    if ((d === areaAt || d === areaAt + 3) && c < 50) return false;
    d++;
  }
  return true;
}

function newShape(): Shape {
  return { plus: false, groups: 0, digits: 0, parenGroup: -1, dots: 0, dashes: 0, spaces: 0, firstDigit: -1, secondDigit: -1 };
}

// Scratch for the hot path. Detectors are synchronous and never re-entered, so one set is safe to reuse.
const LENS: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
const SHAPE: Shape = newShape();

/** Whether `s[from, to)` is exactly one phone number. */
export function phoneAt(s: string, from: number, to: number): boolean {
  return phoneShapeOk(s, from, to, LENS, SHAPE);
}

/** {@link isPhone} once the value's surrounding whitespace is known: `value[from, to)` is what it surrounds. */
export function phoneWhole(value: string, from: number, to: number): boolean {
  if (value.length < 9) return false;
  return phoneAt(value, from, to);
}

/** Whether the whole value (ignoring surrounding whitespace) is a phone number. */
export function isPhone(value: string): boolean {
  return wholeValue(value, phoneWhole);
}

/** Appends the phone numbers found inside free text to `out`. */
export function findPhones(text: string, out: Span[]): void {
  if (text.length < 9) return;
  findNumberish(text, out, { minDigits: 8, maxDigits: 15, maxLength: 25, validate: phoneAt });
}
