/**
 * Character-code helpers shared by the detectors. Detectors read `charCodeAt` in plain loops instead of running
 * regular expressions: no backtracking, no allocation, and an early exit on the first character that cannot fit.
 */

/** A half-open range `[start, end)` of a string that a detector matched. */
export interface Span {
  start: number;
  end: number;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

export function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

export function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** A word character for boundary checks: ASCII letters, digits and `_`. NaN (out of range) is not one. */
export function isWord(c: number): boolean {
  return isAlnum(c) || c === 95;
}

/** ASCII whitespace: space, tab, newline, vertical tab, form feed, carriage return. */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** The first index in `[from, to)` that is not whitespace (or `to`). */
export function skipSpace(s: string, from: number, to: number): number {
  while (from < to && isSpace(s.charCodeAt(from))) from++;
  return from;
}

/** The end of `[from, to)` after trailing whitespace is dropped. */
export function trimSpaceEnd(s: string, from: number, to: number): number {
  while (to > from && isSpace(s.charCodeAt(to - 1))) to--;
  return to;
}

/** Whether `s` has `prefix` at `at`, without allocating. */
export function hasAt(s: string, at: number, prefix: string): boolean {
  return s.startsWith(prefix, at);
}

/**
 * Runs a whole-value check on `value` with its leading and trailing whitespace ignored, so `char(n)` padding
 * does not hide a match.
 */
export function wholeValue(value: string, at: (s: string, from: number, to: number) => boolean): boolean {
  const from = skipSpace(value, 0, value.length);
  return at(value, from, trimSpaceEnd(value, from, value.length));
}
