/**
 * Email addresses: a strict, practical subset of RFC 5322 `addr-spec`.
 *
 * - local part: 1–64 of `A-Z a-z 0-9 . _ % + -`, starting with a letter, digit or `_`, no `..`, not ending in `.`;
 * - domain: two or more dot-separated labels of letters, digits and `-` (1–63 each, no leading or trailing `-`),
 *   at most 253 characters, and a top-level label of two or more letters (or punycode `xn--…`).
 *
 * Not detected on purpose: quoted local parts, IP-literal domains (`user@[10.0.0.1]`), dotless domains
 * (`user@localhost`) and non-ASCII (internationalised) addresses.
 */
import { isAlnum, isAlpha, isDigit, wholeValue } from './chars.js';
import type { Span } from './chars.js';

function isLocalChar(c: number): boolean {
  // . _ % + -
  return isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}

function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 46;
}

function localOk(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 1 || len > 64) return false;
  const first = s.charCodeAt(from);
  if (!isAlnum(first) && first !== 95) return false;
  let prev = first;
  for (let i = from + 1; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isLocalChar(c)) return false;
    if (c === 46 && prev === 46) return false;
    prev = c;
  }
  return prev !== 46;
}

function tldOk(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 2) return false;
  if (len >= 5 && (s.startsWith('xn--', from) || s.startsWith('XN--', from))) {
    for (let i = from + 4; i < to; i++) if (!isAlnum(s.charCodeAt(i))) return false;
    return true;
  }
  for (let i = from; i < to; i++) if (!isAlpha(s.charCodeAt(i))) return false;
  return true;
}

function domainOk(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 4 || len > 253) return false;
  let labelStart = from;
  let labels = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? s.charCodeAt(i) : 46;
    if (c === 46) {
      const n = i - labelStart;
      if (n < 1 || n > 63) return false;
      if (s.charCodeAt(labelStart) === 45 || s.charCodeAt(i - 1) === 45) return false;
      labels++;
      if (i === to) return labels >= 2 && tldOk(s, labelStart, to);
      labelStart = i + 1;
    } else if (!isAlnum(c) && c !== 45) {
      return false;
    }
  }
  return false;
}

/** Whether `s[from, to)` is exactly one email address. */
export function emailAt(s: string, from: number, to: number): boolean {
  const len = to - from;
  if (len < 6 || len > 254) return false;
  const at = s.indexOf('@', from);
  if (at < 0 || at >= to) return false;
  return localOk(s, from, at) && domainOk(s, at + 1, to);
}

/** {@link isEmail} once the value's surrounding whitespace is known: `value[from, to)` is what it surrounds. */
export function emailWhole(value: string, from: number, to: number): boolean {
  // Cheap rejections first: most values have no '@' at all.
  if (value.length < 6 || value.indexOf('@') < 0) return false;
  return emailAt(value, from, to);
}

/** Whether the whole value (ignoring surrounding whitespace) is an email address. */
export function isEmail(value: string): boolean {
  return wholeValue(value, emailWhole);
}

/**
 * Appends the email addresses found inside free text to `out`. Each `@` is grown left over local-part characters
 * and right over domain characters, then trimmed (a sentence's final `.`) and checked with {@link emailAt}.
 */
export function findEmails(text: string, out: Span[]): void {
  if (text.length < 6) return;
  let from = 0;
  let at = text.indexOf('@');
  while (at >= 0) {
    let start = at;
    while (start > from && isLocalChar(text.charCodeAt(start - 1))) start--;
    // A JSON or C escape such as `\n` right before the address is not part of it.
    if (start > 0 && text.charCodeAt(start - 1) === 92 && start < at) start++;
    while (start < at && !isAlnum(text.charCodeAt(start)) && text.charCodeAt(start) !== 95) start++;
    let end = at + 1;
    while (end < text.length && isDomainChar(text.charCodeAt(end))) end++;
    while (end > at + 1 && !isAlpha(text.charCodeAt(end - 1)) && !isDigit(text.charCodeAt(end - 1))) end--;
    if (start < at && emailAt(text, start, end)) {
      out.push({ start, end });
      from = end;
      at = text.indexOf('@', end);
    } else {
      at = text.indexOf('@', at + 1);
    }
  }
}
