/**
 * Field codecs for COPY's text and csv formats: decode a field to its value bytes, and encode a masked value
 * back, the way PostgreSQL's COPY TO writes them. (Rows are split into fields by the masker's scanner, in
 * ./copy-text.ts.)
 *
 * @see https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2 (text format)
 * @see https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.3 (csv format)
 */

const BACKSLASH = 0x5c;
const NL = 0x0a;
const CR = 0x0d;

/** Resolved COPY options, as single bytes. */
export interface CopySyntax {
  csv: boolean;
  delimiter: number;
  quote: number;
  escape: number;
  /** The NULL marker as it appears unescaped in a row (`\N` in text, empty in csv). */
  nullBytes: Buffer;
}

function octal(c: number | undefined): number {
  return c !== undefined && c >= 0x30 && c <= 0x37 ? c - 0x30 : -1;
}

function hex(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

const SIMPLE_ESCAPES: Record<number, number> = { 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11 };

/** Decodes a text-format field: backslash escapes, octal `\NNN` and hex `\xHH`. Returns the input slice when it has no backslash. */
export function decodeTextField(field: Buffer): Buffer {
  if (field.indexOf(BACKSLASH) < 0) return field;
  const out = Buffer.allocUnsafe(field.length);
  let w = 0;
  for (let i = 0; i < field.length; i++) {
    const c = field[i] as number;
    if (c !== BACKSLASH || i + 1 >= field.length) {
      out[w++] = c;
      continue;
    }
    const n = field[++i] as number;
    const simple = SIMPLE_ESCAPES[n];
    if (simple !== undefined) {
      out[w++] = simple;
    } else if (octal(n) >= 0) {
      let v = octal(n);
      for (let k = 0; k < 2 && octal(field[i + 1]) >= 0; k++) v = v * 8 + octal(field[++i]);
      out[w++] = v & 0xff;
    } else if (n === 0x78 && hex(field[i + 1]) >= 0) {
      let v = hex(field[++i]);
      if (hex(field[i + 1]) >= 0) v = v * 16 + hex(field[++i]);
      out[w++] = v;
    } else {
      out[w++] = n;
    }
  }
  return out.subarray(0, w);
}

const TEXT_ESCAPE_LETTER: Record<number, number> = { 8: 0x62, 12: 0x66, 10: 0x6e, 13: 0x72, 9: 0x74, 11: 0x76 };

/** Encodes a value as a text-format field, as COPY TO does. */
export function encodeTextField(value: Buffer, delimiter: number): Buffer {
  let extra = 0;
  for (const c of value) if (c === BACKSLASH || c === delimiter || TEXT_ESCAPE_LETTER[c] !== undefined) extra++;
  if (extra === 0) return value;
  const out = Buffer.allocUnsafe(value.length + extra);
  let w = 0;
  for (const c of value) {
    const letter = TEXT_ESCAPE_LETTER[c];
    if (letter !== undefined) {
      out[w++] = BACKSLASH;
      out[w++] = letter;
    } else {
      if (c === BACKSLASH || c === delimiter) out[w++] = BACKSLASH;
      out[w++] = c;
    }
  }
  return out;
}

/** A csv field's value and whether it was quoted; unquoted fields are returned as the input slice. */
export function decodeCsvField(field: Buffer, syn: CopySyntax): { value: Buffer; quoted: boolean } {
  if (field.length === 0 || field[0] !== syn.quote) return { value: field, quoted: false };
  const out = Buffer.allocUnsafe(field.length);
  let w = 0;
  let inQuotes = false;
  for (let i = 0; i < field.length; i++) {
    const c = field[i] as number;
    if (!inQuotes) {
      if (c === syn.quote) {
        // An opening quote; right after a closing one it is the second of a doubled quote.
        if (i > 0 && syn.escape === syn.quote) out[w++] = c;
        inQuotes = true;
      } else {
        out[w++] = c;
      }
    } else if (c === syn.escape && syn.escape !== syn.quote && i + 1 < field.length) {
      out[w++] = field[++i] as number;
    } else if (c === syn.quote) {
      inQuotes = false;
    } else {
      out[w++] = c;
    }
  }
  return { value: out.subarray(0, w), quoted: true };
}

/** Encodes a value as a csv field, quoting it when needed or when the original field was quoted. */
export function encodeCsvField(value: Buffer, syn: CopySyntax, forceQuote: boolean): Buffer {
  let extra = 0;
  let quote = forceQuote || value.length === 0 || value.equals(syn.nullBytes) || (value[0] === BACKSLASH && value[1] === 0x2e);
  for (const c of value) {
    if (c === syn.quote || c === syn.escape) {
      extra++;
      quote = true;
    } else if (c === syn.delimiter || c === NL || c === CR) {
      quote = true;
    }
  }
  if (!quote) return value;
  const out = Buffer.allocUnsafe(value.length + extra + 2);
  let w = 0;
  out[w++] = syn.quote;
  for (const c of value) {
    if (c === syn.quote || c === syn.escape) out[w++] = syn.escape;
    out[w++] = c;
  }
  out[w] = syn.quote;
  return out;
}
