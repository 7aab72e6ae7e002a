/**
 * Values the server puts into its error and notice messages, masked. PostgreSQL quotes the value that failed in
 * many errors (`invalid input syntax for type uuid: "alice@example.com"`), and its details quote rows and keys
 * (`Key (email)=(alice@example.com) already exists.`, `Failing row contains (1, alice@example.com).`), so
 * `SELECT email::uuid FROM customers` would return a masked column's value in the error instead of the result.
 *
 * What the client sent cannot be a secret to it: a quoted or bracketed segment equal to a whole word, literal or
 * quoted name of its statement (comments left out), or to a parameter, is kept. Whole tokens only: a substring
 * test would let `substr(email, n, 1)::int` read one character at a time against an alphabet in a comment. Every other quoted
 * segment, in any field, and every bracketed segment of a detail, becomes `***`; then the detectors, if any,
 * read what is left. Pure: no I/O.
 */
import type { DetectorName } from './detectors/index.js';
import { maskEmbedded, REDACTED, type MaskStrategy } from './strategies.js';
import type { MaskContext } from './values.js';

export interface MessageMasking {
  /** Mask quoted and bracketed values (the message answers a statement that reads masked data). */
  values: boolean;
  /** What the client sent, which stays: its statements' words, literals and quoted names, and its parameters (see knownTokens). */
  known: ReadonlySet<string>;
  detectors: readonly DetectorName[];
  strategy: MaskStrategy;
  ctx: MaskContext;
}

/** ErrorResponse and NoticeResponse fields that carry text (M message, D detail, H hint, W where, P/q query). */
const TEXT_FIELDS = new Set(['M', 'D', 'H', 'W', 'q']);

/**
 * Masks the text fields of an ErrorResponse or NoticeResponse; returns `fields` itself when nothing changed.
 *
 * When values are masked, a message that code in the database wrote (a notice; an error raised in a function or
 * DO block, which has a context W, or with a PL/pgSQL SQLSTATE P0…) is withheld whole: `RAISE NOTICE 'n %', v`
 * puts a value in the message unquoted, and a context such as `JSON data, line 1: …` quotes none either. What
 * stays is the severity, the SQLSTATE and a message saying why.
 */
export function maskMessageFields(fields: Readonly<Record<string, string>>, m: MessageMasking, notice = false): Record<string, string> {
  if (m.values && (notice || fields.W !== undefined || fields.C?.startsWith('P0'))) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) if (!TEXT_FIELDS.has(k)) out[k] = v;
    out.M = `hoop: ${notice ? 'a notice' : 'the error message'} was withheld: it was written by code the statement ran, and the statement reads masked data${fields.C ? ` (SQLSTATE ${fields.C})` : ''}`;
    return out;
  }
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
    const keep = (content: string): boolean => content.length === 0 || m.known.has(content);
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

/** The tokens of what the client sent: words and numbers, string literals' and quoted names' contents, parameters whole. */
export function knownTokens(sql: readonly string[], parameters: readonly string[]): Set<string> {
  const out = new Set(parameters);
  for (const text of sql) {
    const code = text.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
    for (const m of code.matchAll(/'((?:[^']|'')*)'|"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*|\d+(?:\.\d+)?)/g)) {
      if (m[1] !== undefined) out.add(m[1].replace(/''/g, "'"));
      else if (m[2] !== undefined) out.add(m[2].replace(/""/g, '"'));
      else out.add(m[3]!);
    }
  }
  return out;
}
