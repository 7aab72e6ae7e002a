/**
 * Masks one result value, by its type and format, without ever producing bytes the client cannot decode.
 *
 * - Text-like types (text, varchar, bpchar, name, xml, unknown, and columns marked `textLike`): the value is
 *   masked as a UTF-8 string, in text and binary format alike (their binary form is the same bytes).
 * - json and jsonb: the result stays valid JSON. A whole-value mask becomes a JSON string literal (`"***"`,
 *   `"a***@example.com"`, `"hash:…"`); when the JSON value is itself a string, the strategy applies to its
 *   content. Spans masked inside a document are kept only if the document still parses; otherwise the whole
 *   value is masked. Binary jsonb keeps its version byte; an unknown version is masked to NULL (fail closed).
 * - Every other type: a client parses the value by its type OID, so `***` in an int4 or a timestamp would break
 *   it. A rule on such a column yields SQL NULL, whatever the strategy. Detectors read integers, numerics and
 *   arrays of text or numbers (binary included) and turn a hit into NULL; they skip types that cannot hold what
 *   they look for (bool, floats, dates and times, uuid, inet, bytea…); other types (enums, citext, composites)
 *   are inspected in text format and masked to NULL in binary format, where their bytes cannot be read.
 *
 * {@link maskValue} returns the same Buffer instance when nothing changed, so callers can forward raw bytes;
 * {@link maskText} does the same for a value already read as a string (COPY's fields).
 */
import { decodeArray, decodeInteger, decodeNumeric } from './binary-decode.js';
import { detectWhole, findSpans } from './detectors/index.js';
import type { DetectorName } from './detectors/index.js';
import { applyStrategy, constantMask, maskEmbedded, REDACTED_BYTES } from './strategies.js';
import { genericAsciiCore, partialGenericBytes } from './partial.js';
import type { MaskStrategy } from './strategies.js';
import { elementClassOf, typeClassOf } from './type-class.js';
import type { ColumnType, TypeClass } from './type-class.js';

/** What to do with a column: mask every value (a column rule), or only values the detectors match. */
export type MaskAction =
  | { kind: 'rule'; strategy: MaskStrategy }
  | { kind: 'detectors'; detectors: readonly DetectorName[]; strategy: MaskStrategy };

export interface MaskContext {
  /** HMAC key for the `hash` strategy. */
  hashKey: Buffer;
}

const JSONB_VERSION = 1;

/**
 * Masks a string per `action`. Returns `s` itself when nothing changed, null for SQL NULL.
 */
export function maskString(s: string, action: MaskAction, ctx: MaskContext): string | null {
  if (action.kind === 'rule') return applyStrategy(action.strategy, s, ctx);
  const d = detectWhole(s, action.detectors);
  if (d !== null) return applyStrategy(action.strategy, s, { hashKey: ctx.hashKey, detector: d });
  const r = maskEmbedded(s, action.detectors, action.strategy, ctx);
  return r.count === 0 ? s : r.text;
}

/** The content of a JSON document that is a single string, or null. */
function jsonStringContent(s: string): string | null {
  let i = 0;
  while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\t' || s[i] === '\r')) i++;
  if (s[i] !== '"') return null;
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

function maskJsonWhole(s: string, strategy: MaskStrategy, ctx: MaskContext, detector?: DetectorName): string | null {
  const masked = applyStrategy(strategy, jsonStringContent(s) ?? s, detector ? { hashKey: ctx.hashKey, detector } : ctx);
  return masked === null ? null : JSON.stringify(masked);
}

/** Masks JSON text per `action`, keeping it valid JSON. Returns `s` itself when nothing changed. */
export function maskJsonText(s: string, action: MaskAction, ctx: MaskContext): string | null {
  if (action.kind === 'rule') return maskJsonWhole(s, action.strategy, ctx);
  const content = jsonStringContent(s);
  const d = content === null ? null : detectWhole(content, action.detectors);
  if (d !== null) return maskJsonWhole(s, action.strategy, ctx, d);
  const r = maskEmbedded(s, action.detectors, action.strategy, ctx);
  if (r.count === 0 || r.text === null) return r.count === 0 ? s : null;
  return isJson(r.text) ? r.text : maskJsonWhole(s, action.strategy, ctx);
}

function encodeChanged(raw: Buffer, before: string, after: string | null, prefix?: number): Buffer | null {
  if (after === null) return null;
  if (after === before) return raw;
  if (prefix === undefined) return Buffer.from(after, 'utf8');
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(after, 'utf8'));
  out[0] = prefix;
  out.write(after, 1, 'utf8');
  return out;
}

/** Whether detectors find anything in text, whole or embedded. */
function textHit(s: string, detectors: readonly DetectorName[]): boolean {
  return detectWhole(s, detectors) !== null || findSpans(s, detectors).length > 0;
}

/** Whether a binary value of class `cls` holds a detector hit; null when its bytes cannot be read. */
function binaryHit(raw: Buffer, cls: TypeClass, detectors: readonly DetectorName[], depth = 0): boolean | null {
  switch (cls) {
    case 'text':
    case 'json':
      return textHit(raw.toString('utf8'), detectors);
    case 'jsonb':
      return raw.length > 0 && raw[0] === JSONB_VERSION ? textHit(raw.toString('utf8', 1), detectors) : null;
    case 'integer': {
      const s = decodeInteger(raw);
      return s === null ? null : detectWhole(s, detectors) !== null;
    }
    case 'numeric': {
      const s = decodeNumeric(raw);
      return s === null ? null : detectWhole(s, detectors) !== null;
    }
    case 'array': {
      const a = depth === 0 ? decodeArray(raw) : null;
      if (a === null) return null;
      const elementClass = elementClassOf(a.elementOid);
      if (elementClass === 'opaque') return false;
      for (const e of a.elements) {
        if (e === null) continue;
        const hit = binaryHit(e, elementClass, detectors, depth + 1);
        if (hit !== false) return hit;
      }
      return false;
    }
    case 'opaque':
      return false;
    case 'unknown':
      return null;
  }
}

/** Whether values of this class are masked as strings in both formats (jsonb's binary form adds a version byte). */
function isTextual(cls: TypeClass): boolean {
  return cls === 'text' || cls === 'json' || cls === 'jsonb';
}

/**
 * Masks a value already read as text (a text-format value, or a field of COPY's text or csv output) of a column
 * of class `cls`. Returns `s` itself when nothing changed, null for SQL NULL. {@link maskValue} is this, for bytes.
 */
export function maskText(s: string, cls: TypeClass, action: MaskAction, ctx: MaskContext): string | null {
  if (cls === 'text') return maskString(s, action, ctx);
  if (cls === 'json' || cls === 'jsonb') return maskJsonText(s, action, ctx);
  // Not text: no masked string would parse as this type.
  if (action.kind === 'rule') return null;
  if (cls === 'opaque') return s;
  const hit = cls === 'integer' || cls === 'numeric' ? detectWhole(s, action.detectors) !== null : textHit(s, action.detectors);
  return hit ? null : s;
}

/**
 * Masks one value of a result column. NULL stays NULL. Returns `raw` itself when nothing changed. A masked value
 * may be a buffer shared between calls: copy it, do not change it.
 */
export function maskValue(raw: Buffer | null, column: ColumnType, action: MaskAction, ctx: MaskContext): Buffer | null {
  if (raw === null) return null;
  const cls = typeClassOf(column);
  if (cls === 'jsonb' && column.format === 1) {
    if (raw.length === 0 || raw[0] !== JSONB_VERSION) return null; // a version we cannot read: fail closed
    const s = raw.toString('utf8', 1);
    return encodeChanged(raw, s, maskJsonText(s, action, ctx), JSONB_VERSION);
  }
  if (cls === 'text' && action.kind === 'rule') {
    // redact and null give every value the same mask: no need to read the value as a string.
    const m = constantMask(action.strategy);
    if (m === null) return null;
    if (m !== undefined) return raw.equals(REDACTED_BYTES) ? raw : REDACTED_BYTES;
    // partial of an id, a digest or a name: first and last character around ***, found on the bytes.
    if (action.strategy === 'partial' && genericAsciiCore(raw, 0, raw.length)) return partialGenericBytes(raw);
  }
  if (!isTextual(cls)) {
    // Settled without reading the value.
    if (action.kind === 'rule') return null;
    if (cls === 'opaque') return raw;
    if (column.format === 1) return binaryHit(raw, cls, action.detectors) === false ? raw : null;
  }
  const s = raw.toString('utf8');
  return encodeChanged(raw, s, maskText(s, cls, action, ctx));
}
