/**
 * Masks `COPY … TO STDOUT` data in text or csv format as it streams.
 *
 * CopyData messages split rows anywhere: one message may hold part of a row, a row, or many rows. The masker
 * carries the unfinished row (and, for csv, whether it is inside quotes) from one chunk to the next, and returns
 * the bytes of every row a chunk completes, rewritten where a planned column was masked.
 *
 * It runs once per row of a COPY that may have millions, so it works in one pass over the bytes: a row's end and
 * field boundaries are found together (with indexOf when the row holds no backslash or quote, byte by byte when it
 * does); only planned fields are read, as strings, decoded only when they hold escapes (text) or quotes (csv); a
 * masked value is written straight into the output, escaped or quoted only when it needs it, and the bytes around
 * it are copied. `push` returns a chunk whose rows did not change as a slice of
 * the input. {@link CopyMasker.pushMessages} takes a run of whole CopyData messages as they came off the wire
 * and returns the CopyData messages to send, in one buffer: the run is read in place, message by message, without
 * slicing each payload out.
 *
 * createCopyMasker is one closure rather than a class or several modules: its inner functions share the row being
 * read (field bounds, the carried bytes, csv quote state) as local variables on a path that runs per row, which is
 * why this file is longer than most. Its byte helpers and output are in copy-bytes.ts and copy-output.ts.
 *
 * The binary format cannot be masked field by field with confidence, so it is refused: the masker throws on the
 * `PGCOPY` signature (the caller should already refuse on a CopyOutResponse whose overall format is 1).
 *
 * @see https://www.postgresql.org/docs/current/sql-copy.html#SQL-COPY-FILE-FORMATS
 */
import { HoopError, ProtocolError } from '../../shared/errors.js';
import { ByteWriter } from './byte-writer.js';
import { bytesEqual, COPY_DATA, EMPTY, indexOrEnd, indexWithin, oneByte, readInt32, writeHeader } from './copy-bytes.js';
import { Output } from './copy-output.js';
import { decodeCsvField, decodeTextField, encodeCsvField, encodeTextField } from './copy-fields.js';
import type { CopySyntax } from './copy-fields.js';
import { typeClassOf } from './type-class.js';
import type { TypeClass } from './type-class.js';
import { constantMask, REDACTED_BYTES } from './strategies.js';
import { genericAsciiCore, genericCore, genericCoreMasked } from './partial.js';
import { maskText } from './values.js';
import type { MaskAction, MaskContext } from './values.js';

/** The 11-byte signature that opens binary COPY data. */
export const BINARY_COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Whether COPY data starts with the binary-format signature. */
export function isBinaryCopy(firstBytes: Buffer): boolean {
  return firstBytes.length >= BINARY_COPY_SIGNATURE.length && firstBytes.subarray(0, BINARY_COPY_SIGNATURE.length).equals(BINARY_COPY_SIGNATURE);
}

export interface CopyColumn {
  typeOid: number;
  textLike?: boolean;
}

export interface CopyMaskOptions {
  format: 'text' | 'csv';
  /** Per column, in COPY's column order: the action, or null to leave the column as it is. */
  plan: readonly (MaskAction | null)[];
  columns: readonly CopyColumn[];
  ctx: MaskContext;
  /** COPY's DELIMITER: tab in text, `,` in csv. */
  delimiter?: string;
  /** COPY's NULL: `\N` in text, the empty string in csv. */
  null?: string;
  /** COPY's QUOTE (csv): `"`. */
  quote?: string;
  /** COPY's ESCAPE (csv): the quote character. */
  escape?: string;
  /** COPY's HEADER: the first row names the columns and is passed through. */
  header?: boolean;
  /** Longest row held while waiting for its end; longer is a ProtocolError. Default 256 MiB. */
  maxRowBytes?: number;
}

export interface CopyMasker {
  /** Adds one CopyData payload; returns the rewritten bytes of the rows it completes (maybe empty). */
  push(chunk: Buffer): Buffer;
  /**
   * {@link push} for whole CopyData messages (tag and length included) back to back: returns, in one buffer, a
   * CopyData message for each message in that completes a row, holding the rows it completes. The server's framing
   * is kept (PostgreSQL sends a row per message, and libpq hands a client one message per row).
   *
   * It takes `messages` over: the rows are rewritten in it, and what it returns may be a slice of it.
   */
  pushMessages(messages: Buffer): Buffer;
  /** At CopyDone: checks that no row was left unfinished, and returns any bytes still held. */
  end(): Buffer;
  /** Per column: how many values were masked so far. */
  readonly masked: readonly number[];
  /** Data rows seen so far (the header row not counted). */
  readonly rows: number;
}

/** What maskField returns for a value that stays as it is (null means SQL NULL). */
const UNCHANGED = Symbol('unchanged');
/** What maskField returns for a `partial` value of the generic shape, read as bytes (its core in `genericCore`). */
const GENERIC = Symbol('generic');
const NL = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const STAR = 0x2a;
const DEFAULT_MAX_ROW = 256 * 1024 * 1024;

export function createCopyMasker(opts: CopyMaskOptions): CopyMasker {
  const csv = opts.format === 'csv';
  const quote = oneByte('QUOTE', opts.quote ?? '"');
  const syn: CopySyntax = {
    csv,
    delimiter: oneByte('DELIMITER', opts.delimiter ?? (csv ? ',' : '\t')),
    quote,
    escape: opts.escape === undefined ? quote : oneByte('ESCAPE', opts.escape),
    nullBytes: Buffer.from(opts.null ?? (csv ? '' : '\\N'), 'utf8'),
  };
  if (opts.columns.length !== opts.plan.length) {
    throw new HoopError('internal', `COPY masking plan has ${opts.plan.length} columns but ${opts.columns.length} column types`);
  }
  const delimiter = syn.delimiter;
  const escape = syn.escape;
  const nullBytes = syn.nullBytes;
  const ctx = opts.ctx;
  const maxRow = opts.maxRowBytes ?? DEFAULT_MAX_ROW;
  const n = opts.plan.length;
  const actions = opts.plan;
  const classes: TypeClass[] = opts.columns.map((c) => typeClassOf({ typeOid: c.typeOid, textLike: c.textLike }));
  /** Indexes of the planned columns, in order. */
  const planned: number[] = [];
  actions.forEach((a, i) => {
    if (a !== null) planned.push(i);
  });
  const active = planned.length > 0;
  /** Per column: the mask its rule gives every text value (`redact`, `null`), or undefined when it depends on the value. */
  const constant = actions.map((a, i) => (classes[i] === 'text' && a?.kind === 'rule' ? constantMask(a.strategy) : undefined));
  /**
   * Whether a generic `partial` mask written as bytes is a field as it stands, never one to escape or quote: in
   * text, unless `*` is the delimiter; in csv, unless `*` or a space is the delimiter, quote or escape; in both,
   * unless the NULL string could read as a mask (one with a `*`: writeField keeps such a value a value). The kept
   * first and last bytes are checked per value (csvKeeps).
   */
  const bytesSafe = !nullBytes.includes(STAR) && (csv ? ![delimiter, quote, escape].some((c) => c === STAR || c === 0x20) : delimiter !== STAR);
  /** Per column: whether a `partial` rule may mask its values as bytes (a text column, bytesSafe). */
  const partialBytes = actions.map((a, i) => bytesSafe && classes[i] === 'text' && a?.kind === 'rule' && a.strategy === 'partial');
  const masked = new Array<number>(n).fill(0);
  let rows = 0;
  let headerPending = opts.header === true;
  let probe: Buffer | null = EMPTY; // bytes held while the binary signature is still possible; null once ruled out
  let carry: Buffer[] = [];
  let carryLen = 0;
  let inQuotes = false;
  let escapePending = false;
  const output = new Output();

  // Filled by scanRow for the row just scanned: the bounds of its first n fields, whether each holds a backslash
  // (text), and how many fields it has.
  const bounds = new Array<number>(2 * n).fill(0);
  const escaped = new Uint8Array(n);
  let fieldCount = 0;

  /** Index of the next row end in `chunk[from, to)`, or -1; keeps csv quote state across calls (for a carried row). */
  function rowEnd(chunk: Buffer, from: number, to: number): number {
    if (!csv) return indexWithin(chunk, NL, from, to);
    for (let i = from; i < to; i++) {
      const c = chunk[i];
      if (escapePending) escapePending = false;
      else if (inQuotes) {
        if (c === escape && escape !== quote) escapePending = true;
        else if (c === quote) inQuotes = false;
      } else if (c === quote) inQuotes = true;
      else if (c === NL) return i;
    }
    return -1;
  }

  /**
   * Scans the row that starts at `from`: fills the field bounds, returns the index of its newline, or -1 when the
   * row does not end before `to`. In text, a backslash escapes the next byte, but never the newline: PostgreSQL
   * writes a newline in a value as `\n`, and a row ends at the first newline.
   */
  function scanRow(buf: Buffer, from: number, to: number): number {
    const len = to;
    let field = 0;
    let start = from;
    let backslash = 0;
    if (!csv) {
      for (let i = from; i < len; i++) {
        const c = buf[i];
        if (c === BACKSLASH) {
          backslash = 1;
          if (i + 1 < len && buf[i + 1] !== NL) i++;
        } else if (c === NL || c === delimiter) {
          if (field < n) {
            bounds[2 * field] = start;
            bounds[2 * field + 1] = i;
            escaped[field] = backslash;
          }
          field++;
          if (c === NL) {
            fieldCount = field;
            return i;
          }
          start = i + 1;
          backslash = 0;
        }
      }
      return -1;
    }
    let quoted = false;
    for (let i = from; i < len; i++) {
      const c = buf[i];
      if (quoted) {
        if (c === escape && escape !== quote) i++;
        else if (c === quote) quoted = false;
      } else if (c === quote) {
        quoted = true;
      } else if (c === NL || c === delimiter) {
        if (field < n) {
          bounds[2 * field] = start;
          bounds[2 * field + 1] = i;
        }
        field++;
        if (c === NL) {
          fieldCount = field;
          return i;
        }
        start = i + 1;
      }
    }
    return -1;
  }

  // Where the next delimiter and the next backslash (text) or quote (csv) are in `searched`, at or after the row
  // being read (its length: none; -1: not looked up). Kept from row to row and from message to message of a run,
  // so each byte is searched once.
  let searched: Buffer | null = null;
  let nextSpecial = -1;
  let nextDelimiter = -1;

  /**
   * Masks the rows that end in `chunk[pos, to)`, and returns where the unfinished rest starts. A row with no
   * backslash (text) or quote (csv) ends at the next newline and splits at every delimiter, so its bounds are found
   * with indexOf, which is native. A row holding one is scanned byte by byte (scanRow).
   */
  function maskRows(chunk: Buffer, pos: number, to: number): number {
    if (searched !== chunk) {
      searched = chunk;
      nextSpecial = -1;
      nextDelimiter = -1;
    }
    const special = csv ? quote : BACKSLASH;
    while (pos < to) {
      let nl = chunk.indexOf(NL, pos);
      if (nl < 0 || nl >= to) break;
      if (nextSpecial < pos) nextSpecial = indexOrEnd(chunk, special, pos);
      if (nextSpecial < nl) {
        nl = scanRow(chunk, pos, to);
        if (nl < 0) break;
      } else {
        splitFields(chunk, pos, nl);
      }
      maskRow(chunk, pos, nl);
      pos = nl + 1;
    }
    return pos;
  }

  /**
   * Fills the field bounds of the row `chunk[pos, nl]`, which holds no backslash (text) or quote (csv), so it splits
   * at every delimiter. `searched` must be `chunk`: the next delimiter is kept from row to row.
   */
  function splitFields(chunk: Buffer, pos: number, nl: number): void {
    if (nextDelimiter < pos) nextDelimiter = indexOrEnd(chunk, delimiter, pos);
    let field = 0;
    let start = pos;
    while (nextDelimiter < nl) {
      if (field < n) {
        bounds[2 * field] = start;
        bounds[2 * field + 1] = nextDelimiter;
        escaped[field] = 0;
      }
      field++;
      start = nextDelimiter + 1;
      nextDelimiter = indexOrEnd(chunk, delimiter, start);
    }
    if (field < n) {
      bounds[2 * field] = start;
      bounds[2 * field + 1] = nl;
      escaped[field] = 0;
    }
    fieldCount = field + 1;
  }

  /** Masks the row `buf[from, nl]` whose fields were just found, into the push's output. */
  function maskRow(buf: Buffer, from: number, nl: number): void {
    if (headerPending) {
      headerPending = false;
      output.keep(buf, from, nl + 1);
      return;
    }
    writeRow(buf, from, nl, null);
  }

  /**
   * Counts the data row `buf[from, nl]` and writes it with its planned fields masked: into `w` as it goes (the
   * steady state of a COPY, a row per message), or, with `w` null, into the push's output, where bytes that stay
   * are only noted, so unchanged rows can leave as a slice of their chunk.
   */
  function writeRow(buf: Buffer, from: number, nl: number, w: ByteWriter | null): void {
    rows++;
    if (fieldCount !== n) throw new ProtocolError(`COPY row ${rows} has ${fieldCount} fields, expected ${n}`);
    let cursor = from; // start of the bytes not yet passed on
    for (const i of planned) {
      const m = maskField(buf, i);
      if (m === UNCHANGED) continue;
      if (m === GENERIC) {
        cursor = writeGeneric(buf, cursor, w);
        continue;
      }
      const start = bounds[2 * i] as number;
      const end = bounds[2 * i + 1] as number;
      const quotedField = csv && buf[start] === quote;
      if (w) {
        w.copy(buf, cursor, start);
        w.until(end); // over the input: the masked value may take the field's own bytes and what was freed before
        writeField(w, m, quotedField);
      } else {
        output.keep(buf, cursor, start);
        writeField(output.writer(), m, quotedField);
      }
      cursor = end;
    }
    if (w) w.copy(buf, cursor, nl + 1);
    else output.keep(buf, cursor, nl + 1);
  }

  /** The masked value of planned field `i` of the row just scanned, or UNCHANGED; counts what it masks. */
  function maskField(buf: Buffer, i: number): string | null | typeof UNCHANGED | typeof GENERIC {
    const start = bounds[2 * i] as number;
    const end = bounds[2 * i + 1] as number;
    let value: string;
    if (csv) {
      const quotedField = end > start && buf[start] === quote;
      if (!quotedField && bytesEqual(buf, start, end, nullBytes)) return UNCHANGED; // NULL stays NULL
      if (!quotedField && constant[i] !== undefined) return constantFor(buf, start, end, i);
      if (!quotedField && partialBytes[i] && genericAsciiCore(buf, start, end) && csvKeeps(buf)) return generic(buf, i);
      value = quotedField ? decodeCsvField(buf.subarray(start, end), syn).value.toString('utf8') : buf.toString('utf8', start, end);
    } else {
      if (bytesEqual(buf, start, end, nullBytes)) return UNCHANGED;
      if (!escaped[i] && constant[i] !== undefined) return constantFor(buf, start, end, i);
      if (!escaped[i] && partialBytes[i] && genericAsciiCore(buf, start, end)) return generic(buf, i);
      value = escaped[i] ? decodeTextField(buf.subarray(start, end)).toString('utf8') : buf.toString('utf8', start, end);
    }
    const m = maskText(value, classes[i] as TypeClass, actions[i] as MaskAction, ctx);
    if (m === value) return UNCHANGED;
    masked[i] = (masked[i] ?? 0) + 1;
    return m;
  }

  /**
   * The masked value of planned field `i`, whose rule gives every value the same mask, read as it stands (no
   * escapes, no quotes): the value is compared as bytes, never made a string. As maskText would, a value that
   * already is the mask stays as it is.
   */
  function constantFor(buf: Buffer, start: number, end: number, i: number): string | null | typeof UNCHANGED {
    const m = constant[i] as string | null;
    if (m !== null && bytesEqual(buf, start, end, REDACTED_BYTES)) return UNCHANGED;
    masked[i] = (masked[i] ?? 0) + 1;
    return m;
  }

  /** The generic `partial` mask of planned field `i`, whose core genericAsciiCore just found: counted, or UNCHANGED. */
  function generic(buf: Buffer, i: number): typeof UNCHANGED | typeof GENERIC {
    if (genericCoreMasked(buf)) return UNCHANGED;
    masked[i] = (masked[i] ?? 0) + 1;
    return GENERIC;
  }

  /** csv: whether the bytes the generic mask keeps (the core's first, when kept, and last) need no quotes. */
  function csvKeeps(buf: Buffer): boolean {
    const { from, to } = genericCore;
    if (to - from <= 4) return true; // `***` alone
    const first = buf[from];
    const last = buf[to - 1];
    return first !== quote && first !== escape && first !== delimiter && last !== quote && last !== escape && last !== delimiter;
  }

  /**
   * Writes the generic `partial` mask of the value found last (genericCore), from `cursor` on: the bytes it keeps
   * in front, then `***`; returns the new cursor, where the kept bytes resume. Into `w`, or into the push's output
   * when `w` is null.
   */
  function writeGeneric(buf: Buffer, cursor: number, w: ByteWriter | null): number {
    const { keepTo, resume } = genericCore;
    if (w) {
      w.copy(buf, cursor, keepTo);
      w.until(resume);
      w.copy(REDACTED_BYTES, 0, REDACTED_BYTES.length);
    } else {
      output.keep(buf, cursor, keepTo);
      output.writer().copy(REDACTED_BYTES, 0, REDACTED_BYTES.length);
    }
    return resume;
  }

  /** Writes a masked value as a field, escaped (text) or quoted (csv) exactly as encodeTextField/encodeCsvField would. */
  function writeField(w: ByteWriter, value: string | null, quotedField: boolean): void {
    if (value === null) {
      w.copy(nullBytes, 0, nullBytes.length);
      return;
    }
    if (!csv) {
      if (needsTextEscape(value)) {
        const encoded = encodeTextField(Buffer.from(value, 'utf8'), delimiter);
        w.copy(encoded, 0, encoded.length);
      } else {
        const at = w.length;
        const len = w.utf8(value);
        // A value that reads as the NULL string (`NULL '***'`) gets a backslash in front: COPY matches the NULL
        // string before removing backslashes, and `\*` reads as `*`. Letters and digits cannot be escaped so.
        if (len === nullBytes.length && bytesEqual(w.buffer, at, at + len, nullBytes) && !/^[0-9A-Za-z]/.test(value)) {
          w.truncate(at);
          w.utf8('\\' + value);
        }
      }
      return;
    }
    if (quotedField || needsCsvQuote(value)) {
      const encoded = encodeCsvField(Buffer.from(value, 'utf8'), syn, quotedField);
      w.copy(encoded, 0, encoded.length);
      return;
    }
    const at = w.length;
    const len = w.utf8(value);
    if (len === nullBytes.length && bytesEqual(w.buffer, at, at + len, nullBytes)) {
      // A value that reads as the NULL string is quoted, so it stays a value.
      const bytes = Buffer.from(w.buffer.subarray(at, at + len));
      w.truncate(at);
      const encoded = encodeCsvField(bytes, syn, true);
      w.copy(encoded, 0, encoded.length);
    }
  }

  /** Whether a text-format value holds a byte that COPY escapes: backslash, the delimiter, or \b \t \n \v \f \r. */
  function needsTextEscape(s: string): boolean {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH || c === delimiter || (c >= 8 && c <= CR)) return true;
    }
    return false;
  }

  /** Whether a csv value may need quotes for anything but being the NULL string (checked on its bytes, once written). */
  function needsCsvQuote(s: string): boolean {
    if (s.length === 0 || (s.charCodeAt(0) === BACKSLASH && s.charCodeAt(1) === DOT)) return true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === quote || c === escape || c === delimiter || c === NL || c === CR) return true;
    }
    return false;
  }

  /** Masks the rows that end in `chunk[from, to)`, after the row carried from earlier chunks; holds the rest. */
  function process(chunk: Buffer, from: number, to: number): void {
    let pos = from; // start of the next row in this chunk
    if (carryLen > 0) {
      const nl = rowEnd(chunk, from, to);
      if (nl < 0) {
        hold(chunk, from, to);
        return;
      }
      checkSize(carryLen + nl + 1 - from);
      carry.push(chunk.subarray(from, nl + 1));
      const row = Buffer.concat(carry);
      carry = [];
      carryLen = 0;
      if (scanRow(row, 0, row.length) !== row.length - 1) throw new HoopError('internal', 'COPY row end found twice differently');
      maskRow(row, 0, row.length - 1);
      pos = nl + 1;
    }
    pos = maskRows(chunk, pos, to);
    if (pos < to) {
      hold(chunk, pos, to);
      rowEnd(chunk, pos, to); // sets the csv quote state for the row held
    }
  }

  /** Holds `chunk[from, to)`, the start or middle of a row, until its end comes. */
  function hold(chunk: Buffer, from: number, to: number): void {
    checkSize(carryLen + to - from);
    // Copied: the caller may reuse its buffers once push returns.
    carry.push(Buffer.from(chunk.subarray(from, to)));
    carryLen += to - from;
  }

  function checkSize(n: number): void {
    if (n > maxRow) throw new ProtocolError(`COPY row longer than ${maxRow} bytes`);
  }

  function take(chunk: Buffer, from: number, to: number): void {
    if (active || headerPending) process(chunk, from, to);
    else output.keep(chunk, from, to);
  }

  /** Passes a payload through the binary-signature probe, then on to take(). */
  function feed(chunk: Buffer, from: number, to: number): void {
    if (probe === null) {
      take(chunk, from, to);
      return;
    }
    const piece = from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
    const held: Buffer = probe.length === 0 ? piece : Buffer.concat([probe, piece]);
    const k = Math.min(held.length, BINARY_COPY_SIGNATURE.length);
    if (held.subarray(0, k).equals(BINARY_COPY_SIGNATURE.subarray(0, k))) {
      if (held.length >= BINARY_COPY_SIGNATURE.length) {
        throw new HoopError('blocked', 'COPY data in binary format cannot be masked', {
          hint: 'Use COPY … TO STDOUT in text or csv format for tables with masked columns.',
          details: { reason: 'copy_binary' },
        });
      }
      probe = Buffer.from(held);
      return;
    }
    probe = null;
    take(held, 0, held.length);
  }

  return {
    push(chunk: Buffer): Buffer {
      if (probe === null && !active && !headerPending) return chunk;
      searched = null; // the caller may have refilled a buffer it passed before
      output.begin(null, chunk.length + carryLen + 64);
      feed(chunk, 0, chunk.length);
      return output.finish();
    },
    pushMessages(messages: Buffer): Buffer {
      searched = null;
      // Rows are rewritten over the run itself while they only shrink (partial, redact), so no second buffer is
      // made; a row that grows past the room freed before it moves the output to a buffer of its own.
      const w = ByteWriter.over(messages);
      const special = csv ? quote : BACKSLASH;
      let nextNewline = -1; // the first newline at or after the current payload, once searched for
      for (let at = 0; at < messages.length; ) {
        const end = at + 5 <= messages.length ? at + 1 + readInt32(messages, at + 1) : -1;
        if (messages[at] !== COPY_DATA || end < at + 5 || end > messages.length) throw new ProtocolError('COPY masking expects whole CopyData messages');
        const from = at + 5;
        if (active && probe === null && carryLen === 0 && !headerPending && end > from && messages[end - 1] === NL) {
          // The steady state: this message is one whole row (PostgreSQL sends a row per message). If the row
          // holds no backslash (text) or quote (csv), its fields are found with indexOf and it is masked
          // straight into the output, behind a header written once its length is known.
          if (nextNewline < from) nextNewline = indexOrEnd(messages, NL, from);
          if (searched !== messages) {
            searched = messages;
            nextSpecial = -1;
            nextDelimiter = -1;
          }
          if (nextSpecial < from) nextSpecial = indexOrEnd(messages, special, from);
          if (nextNewline === end - 1 && nextSpecial >= end) {
            splitFields(messages, from, end - 1);
            w.until(from); // this message's header was read
            const header = w.skip(5);
            writeRow(messages, from, end - 1, w);
            writeHeader(w.buffer, header, w.length - header - 1);
            at = end;
            continue;
          }
        }
        // Rows split across messages, escapes, the header row: rewritten out of place (only here, so rarely).
        w.detach();
        const header = w.skip(5); // filled in once the payload is written
        output.begin(w, 0);
        feed(messages, from, end);
        output.finishInto();
        const length = w.length - header - 1;
        if (length === 4) w.truncate(header); // completed no row: nothing to send
        else writeHeader(w.buffer, header, length);
        at = end;
      }
      return w.take();
    },
    end(): Buffer {
      searched = null;
      output.begin(null, (probe?.length ?? 0) + 64);
      if (probe !== null && probe.length > 0) {
        const held = probe;
        probe = null;
        take(held, 0, held.length);
      }
      const out = output.finish();
      if (carryLen > 0 || inQuotes) throw new ProtocolError('COPY data ended inside a row');
      return out;
    },
    get masked(): readonly number[] {
      return masked;
    },
    get rows(): number {
      return rows;
    },
  };
}
