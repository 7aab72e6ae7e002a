/**
 * Finds number-like spans (card numbers, phone numbers) inside free text.
 *
 * A region is a run of digits, spaces and `+ - . ( )` holding enough digits. Inside it, a candidate window starts
 * at a digit, `+` or `(` that follows a space, the start of text or punctuation outside the region, and ends at a
 * digit followed by a space, the end of text or such punctuation. So a window never cuts a token such as
 * `2024-01-05` or `v1.2.3` in half, and never starts or ends glued to a letter. From each start the longest window
 * that validates wins, and the scan moves past it.
 */
import { isDigit, isSpace, isWord } from './chars.js';
import type { Span } from './chars.js';

function isRegionChar(c: number): boolean {
  // digit, space, + - . ( )
  return isDigit(c) || c === 32 || c === 43 || c === 45 || c === 46 || c === 40 || c === 41;
}

function startOk(s: string, p: number): boolean {
  const c = s.charCodeAt(p);
  if (!isDigit(c) && c !== 43 && c !== 40) return false;
  if (p === 0) return true;
  const prev = s.charCodeAt(p - 1);
  if (isSpace(prev)) return true;
  if (prev === 40) return isDigit(c); // "(4242 4242 …)"
  return !isWord(prev) && !isRegionChar(prev);
}

function endOk(s: string, q: number): boolean {
  if (q === s.length) return true;
  const next = s.charCodeAt(q);
  if (isSpace(next)) return true;
  if (isWord(next)) return false;
  if (!isRegionChar(next)) return true;
  // A sentence's final '.' or a closing ')' may follow, as long as no word goes on right after it.
  return (next === 46 || next === 41) && (q + 1 === s.length || !isWord(s.charCodeAt(q + 1)));
}

export interface NumberishOptions {
  /** Fewest digits a match can have: regions and windows with fewer are skipped without validating. */
  minDigits: number;
  /** Most digits a match can have. */
  maxDigits: number;
  /** Longest match, in characters. */
  maxLength: number;
  /** Checks one candidate window. */
  validate: (s: string, from: number, to: number) => boolean;
}

/** Appends the spans of `text` that `opts.validate` accepts to `out`, in order and without overlap. */
export function findNumberish(text: string, out: Span[], opts: NumberishOptions): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && !isDigit(text.charCodeAt(i))) i++;
    if (i >= n) return;
    let rs = i;
    while (rs > 0 && isRegionChar(text.charCodeAt(rs - 1))) rs--;
    let re = i;
    let digits = 0;
    while (re < n && isRegionChar(text.charCodeAt(re))) {
      if (isDigit(text.charCodeAt(re))) digits++;
      re++;
    }
    i = re;
    if (digits >= opts.minDigits) scanRegion(text, rs, re, out, opts);
  }
}

// Window ends for one start, reused: detectors are synchronous and never re-entered.
const ENDS = new Int32Array(64);

function scanRegion(text: string, rs: number, re: number, out: Span[], opts: NumberishOptions): void {
  let p = rs;
  while (p < re) {
    if (startOk(text, p)) {
      // Collect the ends whose window holds an acceptable number of digits, then try the longest first.
      let ends = 0;
      let digits = 0;
      const limit = Math.min(re, p + opts.maxLength);
      for (let q = p + 1; q <= limit && ends < ENDS.length; q++) {
        if (!isDigit(text.charCodeAt(q - 1))) continue;
        if (++digits > opts.maxDigits) break;
        if (digits >= opts.minDigits && endOk(text, q)) ENDS[ends++] = q;
      }
      let matched = -1;
      while (ends > 0) {
        const q = ENDS[--ends] as number;
        if (opts.validate(text, p, q)) {
          matched = q;
          break;
        }
      }
      if (matched > 0) {
        out.push({ start: p, end: matched });
        p = matched;
        continue;
      }
    }
    p++;
  }
}
