/**
 * Secrets and credentials with a recognisable shape:
 * - JWTs: three base64url segments whose header decodes to a JSON object with an `alg` string (and whose
 *   payload is a JSON object too, `eyJ…`); an empty signature (`alg: none`) still counts;
 * - AWS access key ids: `AKIA` or `ASIA` and 16 upper-case letters or digits;
 * - PEM private key blocks: `-----BEGIN … PRIVATE KEY-----` (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP … BLOCK) through
 *   the matching END line (inside free text, a block missing its END line is masked to the end of the text);
 * - `Bearer <token>` with a token68 token of 16 or more characters;
 * - GitHub tokens: `ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_` and 36 letters or digits, or `github_pat_…`;
 * - Slack tokens: `xoxa-`, `xoxb-`, `xoxp-`, `xoxr-` and 10 or more of letters, digits and `-`, with a digit;
 * - Stripe live keys: `sk_live_` or `rk_live_` and 16 or more letters or digits.
 *
 * Not detected on purpose: AWS secret access keys (40 base64 characters with nothing to tell them from any other
 * base64 run), generic API keys and passwords, Stripe test keys, public keys and certificates.
 */
import { hasAt, isAlnum, isDigit, isUpper, isWord, wholeValue } from './chars.js';
import type { Span } from './chars.js';

function isB64Url(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 95;
}

function isToken68(c: number): boolean {
  // ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"
  return isAlnum(c) || c === 45 || c === 46 || c === 95 || c === 126 || c === 43 || c === 47;
}

function allOf(s: string, from: number, to: number, ok: (c: number) => boolean): boolean {
  for (let i = from; i < to; i++) if (!ok(s.charCodeAt(i))) return false;
  return true;
}

export function jwtAt(s: string, from: number, to: number): boolean {
  if (to - from < 24 || !hasAt(s, from, 'eyJ')) return false;
  let d1 = -1;
  let d2 = -1;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (d1 < 0) d1 = i;
      else if (d2 < 0) d2 = i;
      else return false;
    } else if (!isB64Url(c)) {
      return false;
    }
  }
  if (d2 < 0 || d1 - from < 16 || d1 - from > 2048 || d2 - d1 < 4 || !hasAt(s, d1 + 1, 'eyJ')) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(s.slice(from, d1), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

function awsKeyAt(s: string, from: number, to: number): boolean {
  if (to - from !== 20 || !(hasAt(s, from, 'AKIA') || hasAt(s, from, 'ASIA'))) return false;
  for (let i = from + 4; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isUpper(c) && !isDigit(c)) return false;
  }
  return true;
}

const PEM_BEGIN = '-----BEGIN ';

/** The label of a private-key BEGIN line at `from` (e.g. "RSA PRIVATE KEY"), or null. */
function pemLabel(s: string, from: number): string | null {
  if (!hasAt(s, from, PEM_BEGIN)) return null;
  const close = s.indexOf('-----', from + PEM_BEGIN.length);
  if (close < 0 || close - from > 64) return null;
  const label = s.slice(from + PEM_BEGIN.length, close);
  if (!label.endsWith('PRIVATE KEY') && !label.endsWith('PRIVATE KEY BLOCK')) return null;
  return allOf(label, 0, label.length, (c) => isUpper(c) || isDigit(c) || c === 32) ? label : null;
}

function pemAt(s: string, from: number, to: number): boolean {
  const label = pemLabel(s, from);
  if (label === null) return false;
  const end = `-----END ${label}-----`;
  return to - from > PEM_BEGIN.length + label.length + 5 + end.length && s.startsWith(end, to - end.length);
}

function bearerAt(s: string, from: number, to: number): boolean {
  if (!(hasAt(s, from, 'Bearer ') || hasAt(s, from, 'bearer ') || hasAt(s, from, 'BEARER '))) return false;
  let end = to;
  while (end > from + 7 && s.charCodeAt(end - 1) === 61) end--; // trailing '=' padding
  return end - (from + 7) >= 16 && end - from <= 4096 && allOf(s, from + 7, end, isToken68);
}

function githubAt(s: string, from: number, to: number): boolean {
  if (hasAt(s, from, 'github_pat_')) return to - from >= 40 && to - from <= 255 && allOf(s, from + 11, to, isWord);
  if (to - from !== 40 || !hasAt(s, from, 'gh') || s.charCodeAt(from + 3) !== 95) return false;
  const kind = s.charCodeAt(from + 2); // p o u s r
  if (kind !== 112 && kind !== 111 && kind !== 117 && kind !== 115 && kind !== 114) return false;
  return allOf(s, from + 4, to, isAlnum);
}

function slackAt(s: string, from: number, to: number): boolean {
  if (to - from < 15 || to - from > 255 || !hasAt(s, from, 'xox') || s.charCodeAt(from + 4) !== 45) return false;
  const kind = s.charCodeAt(from + 3); // a b p r
  if (kind !== 97 && kind !== 98 && kind !== 112 && kind !== 114) return false;
  let digit = false;
  for (let i = from + 5; i < to; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) digit = true;
    else if (!isAlnum(c) && c !== 45) return false;
  }
  return digit;
}

function stripeAt(s: string, from: number, to: number): boolean {
  if (to - from < 24 || to - from > 255 || !(hasAt(s, from, 'sk_live_') || hasAt(s, from, 'rk_live_'))) return false;
  return allOf(s, from + 8, to, isAlnum);
}

/** Whether `s[from, to)` is exactly one secret. The first character picks the only check that can apply. */
export function secretAt(s: string, from: number, to: number): boolean {
  switch (s.charCodeAt(from)) {
    case 101: return jwtAt(s, from, to); // e
    case 65: return awsKeyAt(s, from, to); // A
    case 45: return pemAt(s, from, to); // -
    case 66: case 98: return bearerAt(s, from, to); // B b
    case 103: return githubAt(s, from, to); // g
    case 120: return slackAt(s, from, to); // x
    case 115: case 114: return stripeAt(s, from, to); // s r
    default: return false;
  }
}

/** {@link isSecret} once the value's surrounding whitespace is known: `value[from, to)` is what it surrounds. */
export function secretWhole(value: string, from: number, to: number): boolean {
  if (value.length < 20) return false;
  return secretAt(value, from, to);
}

/** Whether the whole value (ignoring surrounding whitespace) is a secret. */
export function isSecret(value: string): boolean {
  return wholeValue(value, secretWhole);
}

interface Marker {
  prefix: string;
  /** Characters the token is made of after the prefix. */
  body: (c: number) => boolean;
  check: (s: string, from: number, to: number) => boolean;
}

const MARKERS: readonly Marker[] = [
  { prefix: 'eyJ', body: (c) => isB64Url(c) || c === 46, check: jwtAt },
  { prefix: 'AKIA', body: isAlnum, check: awsKeyAt },
  { prefix: 'ASIA', body: isAlnum, check: awsKeyAt },
  { prefix: 'Bearer ', body: (c) => isToken68(c) || c === 61, check: bearerAt },
  { prefix: 'bearer ', body: (c) => isToken68(c) || c === 61, check: bearerAt },
  { prefix: 'BEARER ', body: (c) => isToken68(c) || c === 61, check: bearerAt },
  { prefix: 'gh', body: isWord, check: githubAt },
  { prefix: 'github_pat_', body: isWord, check: githubAt },
  { prefix: 'xox', body: (c) => isAlnum(c) || c === 45, check: slackAt },
  { prefix: 'sk_live_', body: isAlnum, check: stripeAt },
  { prefix: 'rk_live_', body: isAlnum, check: stripeAt },
];

/** Appends the secrets found inside free text to `out` (in marker order; the caller sorts and merges). */
export function findSecrets(text: string, out: Span[]): void {
  if (text.length < 15) return; // shorter than the shortest secret
  for (let at = text.indexOf(PEM_BEGIN); at >= 0; at = text.indexOf(PEM_BEGIN, at + 1)) {
    const label = pemLabel(text, at);
    if (label === null) continue;
    const endMarker = `-----END ${label}-----`;
    const e = text.indexOf(endMarker, at);
    const end = e < 0 ? text.length : e + endMarker.length;
    out.push({ start: at, end });
    at = end - 1;
  }
  for (const m of MARKERS) {
    for (let at = text.indexOf(m.prefix); at >= 0; at = text.indexOf(m.prefix, at + 1)) {
      if (at > 0) {
        const prev = text.charCodeAt(at - 1);
        if (isWord(prev) || prev === 45 || prev === 46) continue;
      }
      let end = at + m.prefix.length;
      while (end < text.length && m.body(text.charCodeAt(end))) end++;
      // A sentence's final '.' is not part of a token.
      while (end > at && text.charCodeAt(end - 1) === 46) end--;
      // …unless it ends an unsigned JWT (`header.payload.`).
      if (!m.check(text, at, end) && !(text.charCodeAt(end) === 46 && m.check(text, at, ++end))) continue;
      out.push({ start: at, end });
      at = end - 1;
    }
  }
}
