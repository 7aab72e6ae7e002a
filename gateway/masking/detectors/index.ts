/**
 * Content detectors: pure, synchronous predicates over one value, and span finders over free text.
 *
 * A detector answers "is this whole value an X?" (surrounding whitespace ignored, so `char(n)` padding does not
 * matter). A finder lists the X's embedded in longer text, for masking free-text columns span by span. Both share
 * one validator per kind, so a span is found only where the same text on its own would be detected.
 */
import { skipSpace, trimSpaceEnd } from './chars.js';
import type { Span } from './chars.js';
import { creditCardWhole, findCreditCards, isCreditCard } from './credit-card.js';
import { emailWhole, findEmails, isEmail } from './email.js';
import { findIbans, ibanWhole, isIban } from './iban.js';
import { findPhones, isPhone, phoneWhole } from './phone.js';
import { findSecrets, isSecret, secretWhole } from './secret.js';
import { findUsSsns, isUsSsn, usSsnWhole } from './us-ssn.js';

export type { Span } from './chars.js';

export const DETECTOR_NAMES = ['email', 'credit_card', 'iban', 'us_ssn', 'phone', 'secret'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

export type Detector = (value: string) => boolean;
export type SpanFinder = (text: string, out: Span[]) => void;

export const DETECTORS: Readonly<Record<DetectorName, Detector>> = Object.freeze({
  email: isEmail,
  credit_card: isCreditCard,
  iban: isIban,
  us_ssn: isUsSsn,
  phone: isPhone,
  secret: isSecret,
});

export const FINDERS: Readonly<Record<DetectorName, SpanFinder>> = Object.freeze({
  email: findEmails,
  credit_card: findCreditCards,
  iban: findIbans,
  us_ssn: findUsSsns,
  phone: findPhones,
  secret: findSecrets,
});

export function isDetectorName(s: string): s is DetectorName {
  return (DETECTOR_NAMES as readonly string[]).includes(s);
}

/** The first of `names` whose detector matches the whole value, or null. */
export function detectWhole(value: string, names: readonly DetectorName[] = DETECTOR_NAMES): DetectorName | null {
  if (names === DETECTOR_NAMES) return detectAny(value);
  for (const name of names) if (DETECTORS[name](value)) return name;
  return null;
}

/**
 * detectWhole over every detector, in DETECTOR_NAMES order: the value's surrounding whitespace is found once rather
 * than by each detector, and each is called from its own site (a loop through DETECTORS calls six functions from
 * one site, which the JIT cannot inline). `partial` asks this of every value it masks, so a COPY of a million
 * rows asks it a million times.
 */
function detectAny(value: string): DetectorName | null {
  const from = skipSpace(value, 0, value.length);
  const to = trimSpaceEnd(value, from, value.length);
  if (emailWhole(value, from, to)) return 'email';
  if (creditCardWhole(value, from, to)) return 'credit_card';
  if (ibanWhole(value, from, to)) return 'iban';
  if (usSsnWhole(value, from, to)) return 'us_ssn';
  if (phoneWhole(value, from, to)) return 'phone';
  if (secretWhole(value, from, to)) return 'secret';
  return null;
}

/** A span found in free text, with the detector that found it. */
export interface DetectedSpan extends Span {
  detector: DetectorName;
}

/**
 * The spans of `text` that any of `names` finds, sorted and without overlap: where two overlap, the one that
 * starts first wins, and at the same start the longer one (a `Bearer` token over the JWT inside it).
 */
export function findSpans(text: string, names: readonly DetectorName[] = DETECTOR_NAMES): DetectedSpan[] {
  const found: Span[] = [];
  let by: DetectorName[] | null = null; // detector of each found span, filled only once something is found
  for (const name of names) {
    const before = found.length;
    FINDERS[name](text, found);
    if (found.length > before) {
      by ??= [];
      for (let i = before; i < found.length; i++) by.push(name);
    }
  }
  if (by === null) return [];
  const all = found.map((s, i) => ({ start: s.start, end: s.end, detector: by[i] as DetectorName }));
  if (all.length === 1) return all;
  all.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: DetectedSpan[] = [];
  let last = -1;
  for (const s of all) {
    if (s.start >= last) {
      out.push(s);
      last = s.end;
    }
  }
  return out;
}
