/**
 * Masking strategies over strings. Pure: the only input besides the value is the HMAC key for `hash`.
 *
 * - `redact`: the fixed string `***` (one constant, so it reads the same in text, CSV, JSON and arrays);
 * - `partial`: keeps the shape and a little of the value (see ./partial.ts);
 * - `hash`: `hash:` and the first 16 hex digits of HMAC-SHA256(hashKey, value): deterministic, so equal values
 *   still join and group, and not reversible or guessable without the key. 64 bits: collisions are expected
 *   only past about 4 billion distinct values;
 * - `null`: SQL NULL.
 */
import { createHmac } from 'node:crypto';
import { findSpans } from './detectors/index.js';
import type { DetectorName } from './detectors/index.js';
import { partialMask, REDACTED } from './partial.js';

export { REDACTED, REDACTED_BYTES } from './partial.js';

export const MASK_STRATEGIES = ['redact', 'partial', 'hash', 'null'] as const;
export type MaskStrategy = (typeof MASK_STRATEGIES)[number];

export interface StrategyContext {
  /** Key for `hash`. Keep it per deployment (or per connection) and secret: it is what makes hashes unguessable. */
  hashKey: Buffer;
  /** The detector that matched, when known: it picks the shape for `partial`. */
  detector?: DetectorName;
}

export function hashValue(value: string, key: Buffer): string {
  return `hash:${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 16)}`;
}

/** Masks one value. Only `null` returns null. */
export function applyStrategy(strategy: MaskStrategy, value: string, ctx: StrategyContext): string | null {
  switch (strategy) {
    case 'redact':
      return REDACTED;
    case 'partial':
      return partialMask(value, ctx.detector);
    case 'hash':
      return hashValue(value, ctx.hashKey);
    case 'null':
      return null;
  }
}

/**
 * What {@link applyStrategy} returns for every value under `strategy`, when that does not depend on the value
 * (`redact`, `null`); undefined when it does.
 */
export function constantMask(strategy: MaskStrategy): string | null | undefined {
  if (strategy === 'redact') return REDACTED;
  if (strategy === 'null') return null;
  return undefined;
}

export interface EmbeddedResult {
  /** The text with each found span masked; null when the strategy is `null` and anything was found. */
  text: string | null;
  /** How many spans were masked. */
  count: number;
}

/**
 * Masks only the spans of `text` that the detectors find (an email inside a comment, a card number in a note),
 * each with the strategy in its own detector's shape. With `null`, any finding nulls the whole value.
 */
export function maskEmbedded(
  text: string,
  detectors: readonly DetectorName[],
  strategy: MaskStrategy,
  ctx: StrategyContext,
): EmbeddedResult {
  const spans = findSpans(text, detectors);
  if (spans.length === 0) return { text, count: 0 };
  if (strategy === 'null') return { text: null, count: spans.length };
  let out = '';
  let last = 0;
  for (const s of spans) {
    const masked = applyStrategy(strategy, text.slice(s.start, s.end), { hashKey: ctx.hashKey, detector: s.detector });
    out += text.slice(last, s.start) + (masked ?? '');
    last = s.end;
  }
  return { text: out + text.slice(last), count: spans.length };
}
