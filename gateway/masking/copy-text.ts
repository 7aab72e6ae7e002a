/**
 * Masks `COPY … TO STDOUT` data in text or csv format as it streams.
 *
 * CopyData messages split rows anywhere: one message may hold part of a row, a row, or many rows. The masker
 * carries the unfinished row (and, for csv, whether it is inside quotes) from one chunk to the next, and returns
 * the bytes of every row a chunk completes, rewritten where a planned column was masked. Rows that did not change
 * go out as slices of the input. The binary format cannot be masked field by field with confidence, so it is
 * refused: the masker throws on the `PGCOPY` signature (the caller should already refuse on a CopyOutResponse
 * whose overall format is 1).
 *
 * @see https://www.postgresql.org/docs/current/sql-copy.html#SQL-COPY-FILE-FORMATS
 */
import { HoopError, ProtocolError } from '../../shared/errors.js';
import { decodeCsvField, decodeTextField, encodeCsvField, encodeTextField, splitFields } from './copy-fields.js';
import type { CopySyntax } from './copy-fields.js';
import { maskValue } from './values.js';
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
  /** At CopyDone: checks that no row was left unfinished, and returns any bytes still held. */
  end(): Buffer;
  /** Per column: how many values were masked so far. */
  readonly masked: readonly number[];
  /** Data rows seen so far (the header row not counted). */
  readonly rows: number;
}

const EMPTY: Buffer = Buffer.alloc(0);
const NL = 0x0a;
const DEFAULT_MAX_ROW = 256 * 1024 * 1024;

function oneByte(name: string, s: string): number {
  const b = Buffer.from(s, 'utf8');
  if (b.length !== 1) throw new HoopError('internal', `COPY ${name} must be a single one-byte character, got ${JSON.stringify(s)}`);
  return b[0] as number;
}

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
  const maxRow = opts.maxRowBytes ?? DEFAULT_MAX_ROW;
  const active = opts.plan.some((a) => a !== null);
  const masked = new Array<number>(opts.plan.length).fill(0);
  let rows = 0;
  let headerPending = opts.header === true;
  let probe: Buffer | null = EMPTY; // bytes held while the binary signature is still possible; null once ruled out
  let carry: Buffer[] = [];
  let carryLen = 0;
  let inQuotes = false;
  let escapePending = false;

  /** Index of the next row end at or after `from`, or -1; keeps csv quote state across calls. */
  function rowEnd(chunk: Buffer, from: number): number {
    if (!csv) return chunk.indexOf(NL, from);
    for (let i = from; i < chunk.length; i++) {
      const c = chunk[i];
      if (escapePending) escapePending = false;
      else if (inQuotes) {
        if (c === syn.escape && syn.escape !== syn.quote) escapePending = true;
        else if (c === syn.quote) inQuotes = false;
      } else if (c === syn.quote) inQuotes = true;
      else if (c === NL) return i;
    }
    return -1;
  }

  function maskRow(row: Buffer): Buffer {
    if (headerPending) {
      headerPending = false;
      return row;
    }
    rows++;
    const end = row.length - 1; // without the newline
    const bounds = splitFields(row, end, syn);
    if (bounds.length / 2 !== opts.plan.length) {
      throw new ProtocolError(`COPY row ${rows} has ${bounds.length / 2} fields, expected ${opts.plan.length}`);
    }
    let out: (Buffer | undefined)[] | null = null;
    for (let i = 0; i < opts.plan.length; i++) {
      const action = opts.plan[i];
      const column = opts.columns[i];
      if (!action || !column) continue;
      const field = row.subarray(bounds[2 * i], bounds[2 * i + 1]);
      let value: Buffer;
      let quoted = false;
      if (csv) {
        const d = decodeCsvField(field, syn);
        if (!d.quoted && field.equals(syn.nullBytes)) continue; // NULL stays NULL
        value = d.value;
        quoted = d.quoted;
      } else {
        if (field.equals(syn.nullBytes)) continue;
        value = decodeTextField(field);
      }
      const m = maskValue(value, { typeOid: column.typeOid, format: 0, textLike: column.textLike }, action, opts.ctx);
      if (m === value) continue;
      (out ??= [])[i] = m === null ? syn.nullBytes : csv ? encodeCsvField(m, syn, quoted) : encodeTextField(m, syn.delimiter);
      masked[i] = (masked[i] ?? 0) + 1;
    }
    if (out === null) return row;
    const parts: Buffer[] = [];
    const delim = Buffer.from([syn.delimiter]);
    for (let i = 0; i < opts.plan.length; i++) {
      if (i > 0) parts.push(delim);
      parts.push(out[i] ?? row.subarray(bounds[2 * i], bounds[2 * i + 1]));
    }
    parts.push(row.subarray(end));
    return Buffer.concat(parts);
  }

  function process(chunk: Buffer): Buffer {
    const pieces: Buffer[] = [];
    let pos = 0; // start of the current row in this chunk
    let run = 0; // start of the unchanged bytes not yet emitted
    for (let nl = rowEnd(chunk, 0); nl >= 0; nl = rowEnd(chunk, pos)) {
      const next = nl + 1;
      if (carryLen > 0) {
        checkSize(carryLen + next);
        carry.push(chunk.subarray(0, next));
        pieces.push(maskRow(Buffer.concat(carry)));
        carry = [];
        carryLen = 0;
        run = next;
      } else {
        const row = chunk.subarray(pos, next);
        const m = maskRow(row);
        if (m !== row) {
          if (pos > run) pieces.push(chunk.subarray(run, pos));
          pieces.push(m);
          run = next;
        }
      }
      pos = next;
    }
    if (pos > run) pieces.push(chunk.subarray(run, pos));
    if (pos < chunk.length) {
      checkSize(carryLen + chunk.length - pos);
      // Copied: the caller may reuse its buffers once push returns.
      carry.push(Buffer.from(chunk.subarray(pos)));
      carryLen += chunk.length - pos;
    }
    return pieces.length === 0 ? EMPTY : pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  }

  function checkSize(n: number): void {
    if (n > maxRow) throw new ProtocolError(`COPY row longer than ${maxRow} bytes`);
  }

  function take(chunk: Buffer): Buffer {
    return active || headerPending ? process(chunk) : chunk;
  }

  return {
    push(chunk: Buffer): Buffer {
      if (probe !== null) {
        const held: Buffer = probe.length === 0 ? chunk : Buffer.concat([probe, chunk]);
        const n = Math.min(held.length, BINARY_COPY_SIGNATURE.length);
        if (held.subarray(0, n).equals(BINARY_COPY_SIGNATURE.subarray(0, n))) {
          if (held.length >= BINARY_COPY_SIGNATURE.length) {
            throw new HoopError('blocked', 'COPY data in binary format cannot be masked', {
              hint: 'Use COPY … TO STDOUT in text or csv format for tables with masked columns.',
              details: { reason: 'copy_binary' },
            });
          }
          probe = Buffer.from(held);
          return EMPTY;
        }
        probe = null;
        return take(held);
      }
      return take(chunk);
    },
    end(): Buffer {
      let out: Buffer = EMPTY;
      if (probe !== null && probe.length > 0) {
        const held = probe;
        probe = null;
        out = take(held);
      }
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
