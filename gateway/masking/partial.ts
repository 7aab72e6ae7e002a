/**
 * `partial` masking: keep just enough of a value to recognise it, in the shape it had.
 *
 * | kind        | example in                 | example out               |
 * |-------------|----------------------------|---------------------------|
 * | email       | `alice@example.com`        | `a***@example.com`        |
 * | credit_card | `4242 4242 4242 4242`      | `**** **** **** 4242`     |
 * | phone       | `+1 415-555-0100`          | `+* ***-***-0100`         |
 * | iban        | `DE89 3704 0044 0532 0130 00` | `DE** **** **** **** **30 00` |
 * | us_ssn      | `123-45-6789`              | `***-**-6789`             |
 * | other       | `Alice Smith`              | `A***h`                   |
 *
 * Digits are masked one for one (separators stay), so card, phone, IBAN and SSN keep their layout. Other text
 * keeps its first and last character around a fixed `***`, which hides the length; 4 characters or fewer become
 * `***`. Surrounding whitespace (`char(n)` padding) is kept as it was.
 */
import { isAlnum, isAlpha, isDigit, skipSpace, trimSpaceEnd } from './detectors/chars.js';
import { detectWhole } from './detectors/index.js';
import type { DetectorName } from './detectors/index.js';

export const REDACTED = '***';
/** {@link REDACTED} as UTF-8, shared: never change it. */
export const REDACTED_BYTES: Buffer = Buffer.from(REDACTED, 'utf8');

/** Masks every digit but the last `keep`; other characters stay. */
function keepLastDigits(s: string, keep: number): string {
  let digits = 0;
  for (let i = 0; i < s.length; i++) if (isDigit(s.charCodeAt(i))) digits++;
  let seen = 0;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      out += seen < digits - keep ? '*' : s[i];
      seen++;
    } else {
      out += s[i];
    }
  }
  return out;
}

function partialEmail(s: string): string {
  const at = s.lastIndexOf('@');
  const local = s.slice(0, at);
  const first = String.fromCodePoint(local.codePointAt(0) ?? 42);
  return (local.length <= 2 ? REDACTED : first + REDACTED) + s.slice(at);
}

/** Keeps the country code and the last four characters; masks the rest one for one. */
function partialIban(s: string): string {
  let alnums = 0;
  for (let i = 0; i < s.length; i++) if (isAlnum(s.charCodeAt(i))) alnums++;
  let seen = 0;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (isAlnum(s.charCodeAt(i))) {
      out += seen < 2 || seen >= alnums - 4 ? s[i] : '*';
      seen++;
    } else {
      out += s[i];
    }
  }
  return out;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Whether `s` has more than four code points (a surrogate pair is one, a lone surrogate is one too). */
function longerThanFour(s: string): boolean {
  if (s.length >= 10) return true; // a code point is at most two UTF-16 units
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) if (isHighSurrogate(s.charCodeAt(i)) && isLowSurrogate(s.charCodeAt(i + 1))) i++;
  return n > 4;
}

/**
 * First and last code point around `***`. Read in place rather than through `Array.from(s)`: this runs once per
 * value of a masked column, and a COPY of a million rows would otherwise build a million arrays.
 */
function partialGeneric(s: string): string {
  if (!longerThanFour(s)) return REDACTED;
  const firstUnits = isHighSurrogate(s.charCodeAt(0)) && isLowSurrogate(s.charCodeAt(1)) ? 2 : 1;
  const lastUnits = isLowSurrogate(s.charCodeAt(s.length - 1)) && isHighSurrogate(s.charCodeAt(s.length - 2)) ? 2 : 1;
  return s.slice(0, firstUnits) + REDACTED + s.slice(s.length - lastUnits);
}

const NOT_IN_ADDRESS = new Set([...' \t\r\n"\'<>(){}[]\\,;:']);

/**
 * A value with one `@` between a non-empty local part and a dotted domain, and no spaces, quotes or brackets: an
 * address for `partial`'s purposes, even if the strict email detector would not flag it.
 */
function looksLikeEmail(s: string): boolean {
  const at = s.indexOf('@');
  if (at <= 0 || at !== s.lastIndexOf('@')) return false;
  const dot = s.indexOf('.', at);
  if (dot <= at + 1 || s.endsWith('.')) return false;
  for (const ch of s) if (NOT_IN_ADDRESS.has(ch)) return false;
  return true;
}

/** For {@link isGenericAscii}, per byte: printable ASCII, and whether a card number, SSN or phone may hold it. */
const OTHER = 0;
const NUMBERISH = 1;
const UNFIT = 2;
const BYTE_KIND = new Uint8Array(256).fill(UNFIT);
for (let c = 0x20; c <= 0x7e; c++) BYTE_KIND[c] = OTHER;
// Digits, space and `+ ( ) - .`: all a card number, an SSN or a phone number is made of.
for (const c of '0123456789 +()-.') BYTE_KIND[c.charCodeAt(0)] = NUMBERISH;
BYTE_KIND[0x40] = UNFIT; // `@`: an address, maybe

/**
 * Whether {@link partialMask} (with no detector given) gives the value whose trimmed core is `b[from, to)` the
 * generic shape, `first***last` or `***`, judged on its bytes without decoding them: true only when the core is
 * printable ASCII (so a byte is a character), and not one of the shapes partialMask keeps:
 * - email (and anything email-like) needs an `@`;
 * - card numbers, SSNs and phone numbers hold nothing but digits, spaces and `+ ( ) - .`;
 * - an IBAN is 15-42 characters and starts with two letters and two digits.
 * A secret takes the generic shape too. False means "read it as a string", never "it is not generic": a COPY of
 * a million hex digests, ids or names is masked without a string per value (the string path is the reference,
 * and property tests hold this to it).
 */
export function isGenericAscii(b: Uint8Array, from: number, to: number): boolean {
  let numberish = NUMBERISH;
  for (let i = from; i < to; i++) {
    const kind = BYTE_KIND[b[i] as number] as number;
    if (kind === UNFIT) return false;
    numberish &= kind;
  }
  if (numberish === NUMBERISH) return false;
  const len = to - from;
  return !(len >= 15 && len <= 42 && isAlpha(b[from] as number) && isAlpha(b[from + 1] as number) && isDigit(b[from + 2] as number) && isDigit(b[from + 3] as number));
}

/**
 * The value {@link genericAsciiCore} last said yes to: its core `[from, to)` (surrounding spaces excluded), and
 * how its generic mask splits it: the bytes before `keepTo` stay, `***` follows, and the bytes from `resume` on
 * stay (the core's first and last character when it is longer than four, and the spaces around it).
 */
export const genericCore = { from: 0, to: 0, keepTo: 0, resume: 0 };

/**
 * Whether `partial` gives the value `b[start, end)` the generic shape, judged on its bytes ({@link isGenericAscii});
 * if so, its core's bounds are left in {@link genericCore}. A value of spaces only is not masked, so it gets a no.
 */
export function genericAsciiCore(b: Uint8Array, start: number, end: number): boolean {
  let from = start;
  while (from < end && b[from] === 0x20) from++;
  let to = end;
  while (to > from && b[to - 1] === 0x20) to--;
  if (from === to || !isGenericAscii(b, from, to)) return false;
  const long = to - from > 4;
  genericCore.from = from;
  genericCore.to = to;
  genericCore.keepTo = long ? from + 1 : from;
  genericCore.resume = long ? to - 1 : to;
  return true;
}

/** Whether the core {@link genericAsciiCore} found last already reads as its mask (`***`, or `x***y`). */
export function genericCoreMasked(b: Uint8Array): boolean {
  const { from, to } = genericCore;
  const at = to - from === 5 ? from + 1 : to - from === 3 ? from : -1;
  if (at < 0) return false;
  for (let i = 0; i < REDACTED_BYTES.length; i++) if (b[at + i] !== REDACTED_BYTES[i]) return false;
  return true;
}

/**
 * `partial` of a value {@link genericAsciiCore} said yes to, as bytes: the same as {@link partialMask} on its text.
 * Returns `raw` itself when it already reads as its mask.
 */
export function partialGenericBytes(raw: Buffer): Buffer {
  if (genericCoreMasked(raw)) return raw;
  const { keepTo, resume } = genericCore;
  const out = Buffer.allocUnsafe(keepTo + REDACTED_BYTES.length + raw.length - resume);
  // A few bytes each: loops, cheaper than Buffer.copy's checks.
  let w = 0;
  for (let i = 0; i < keepTo; i++) out[w++] = raw[i] as number;
  for (let i = 0; i < REDACTED_BYTES.length; i++) out[w++] = REDACTED_BYTES[i] as number;
  for (let i = resume; i < raw.length; i++) out[w++] = raw[i] as number;
  return out;
}

function shapeOf(core: string, detector: DetectorName | undefined): DetectorName | 'other' {
  if (detector) return detector;
  return detectWhole(core) ?? (looksLikeEmail(core) ? 'email' : 'other');
}

/**
 * Masks `value` partially, in the shape of `detector` (or of whichever detector matches it, when not given).
 */
export function partialMask(value: string, detector?: DetectorName): string {
  const from = skipSpace(value, 0, value.length);
  const to = trimSpaceEnd(value, from, value.length);
  const core = value.slice(from, to);
  if (core.length === 0) return value;
  let masked: string;
  const shape = shapeOf(core, detector);
  switch (shape) {
    case 'email':
      masked = core.includes('@') ? partialEmail(core) : partialGeneric(core);
      break;
    case 'credit_card':
    case 'us_ssn':
      masked = keepLastDigits(core, 4);
      break;
    case 'phone': {
      let digits = 0;
      for (let i = 0; i < core.length; i++) if (isDigit(core.charCodeAt(i))) digits++;
      masked = keepLastDigits(core, digits >= 10 ? 4 : 2);
      break;
    }
    case 'iban':
      masked = partialIban(core);
      break;
    case 'secret':
    case 'other':
      masked = partialGeneric(core);
      break;
  }
  return value.slice(0, from) + masked + value.slice(to);
}
