/**
 * Values the server puts into its error and notice messages, masked. PostgreSQL quotes the value that failed in
 * many errors (`invalid input syntax for type uuid: "alice@example.com"`), and its details quote rows and keys
 * (`Key (email)=(alice@example.com) already exists.`, `Failing row contains (1, alice@example.com).`), so
 * `SELECT email::uuid FROM customers` would return a masked column's value in the error instead of the result.
 *
 * What the client sent cannot be a secret to it: a quoted or bracketed segment whose content occurs in the
 * statement's text or parameters (a table, column or function name; a literal) is kept. Every other quoted
 * segment, in any field, and every bracketed segment of a detail, becomes `***`; then the detectors, if any,
 * read what is left. Pure: no I/O.
 */
import type { DetectorName } from './detectors/index.js';
import { maskEmbedded, REDACTED, type MaskStrategy } from './strategies.js';
import type { MaskContext } from './values.js';

export interface MessageMasking {
  /** Mask quoted and bracketed values (the message answers a statement that reads masked data). */
  values: boolean;
  /** The statement's text and parameters: what the client sent, which stays. */
  known: string;
  detectors: readonly DetectorName[];
  strategy: MaskStrategy;
  ctx: MaskContext;
}

/** ErrorResponse and NoticeResponse fields that carry text (M message, D detail, H hint, W where, P/q query). */
const TEXT_FIELDS = new Set(['M', 'D', 'H', 'W', 'q']);

/** Masks the text fields of an ErrorResponse or NoticeResponse; returns `fields` itself when nothing changed. */
export function maskMessageFields(fields: Readonly<Record<string, string>>, m: MessageMasking): Record<string, string> {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (!TEXT_FIELDS.has(k)) continue;
    const masked = maskMessageText(v, m, k === 'D');
    if (masked !== v) (out ??= { ...fields })[k] = masked;
  }
  return out ?? (fields as Record<string, string>);
}

export function maskMessageText(text: string, m: MessageMasking, detail = false): string {
  let s = text;
  if (m.values) {
    const keep = (content: string): boolean => content.length === 0 || m.known.includes(content);
    s = s.replace(/"([^"\n]*)"/g, (all, content: string) => (keep(content) ? all : `"${REDACTED}"`));
    // `Key (email)=(value)`, anywhere; every bracketed segment of a detail (`Failing row contains (…)`).
    s = s.replace(detail ? /\(([^()\n]*)\)/g : /(?<==)\(([^()\n]*)\)/g, (all, content: string) => (keep(content) ? all : `(${REDACTED})`));
  }
  if (m.detectors.length) {
    const r = maskEmbedded(s, m.detectors, m.strategy, m.ctx);
    if (r.count > 0) s = r.text ?? REDACTED;
  }
  return s;
}
