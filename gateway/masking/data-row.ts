/**
 * DataRow rewriting: masks the planned columns of one row and re-encodes the frame only if a value changed.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-DATAROW
 */
import { ProtocolError } from '../../shared/errors.js';
import type { ColumnType } from './type-class.js';
import { maskValue } from './values.js';
import type { MaskAction, MaskContext } from './values.js';

const DATA_ROW_TAG = 0x44; // 'D'

/** A DataRow as the framer hands it over: the body, and the whole frame for forwarding untouched. */
export interface RowFrame {
  body: Buffer;
  raw: Buffer;
}

export interface DataRowResult {
  /** `frame.raw` itself when nothing changed, else a new whole frame (tag, length, body). */
  frame: Buffer;
  /** Per column: 1 if this row's value was masked, else 0. */
  masked: number[];
  /** Whether any value was masked (`frame !== raw`). */
  changed: boolean;
}

interface Change {
  /** Offset of the value's length word in the body. */
  lenAt: number;
  /** Offset just past the old value. */
  end: number;
  value: Buffer | null;
}

/**
 * Masks one DataRow. `plan[i]` is the action for column i (null: forward as is, without decoding); `columns[i]`
 * its type and format from RowDescription (or from Bind's result formats). Throws only {@link ProtocolError}, on
 * a malformed body or a column count that does not match the plan.
 */
export function maskDataRow(
  frame: RowFrame,
  plan: readonly (MaskAction | null)[],
  columns: readonly ColumnType[],
  ctx: MaskContext,
): DataRowResult {
  const body = frame.body;
  if (body.length < 2) throw new ProtocolError('DataRow is too short for its column count');
  const count = body.readInt16BE(0);
  if (count < 0) throw new ProtocolError(`DataRow has a negative column count (${count})`);
  if (count !== plan.length || count !== columns.length) {
    throw new ProtocolError(`DataRow has ${count} columns, the row description ${columns.length}`, {
      details: { columns: count, described: columns.length, planned: plan.length },
    });
  }
  const masked = new Array<number>(count).fill(0);
  let changes: Change[] | null = null;
  let off = 2;
  for (let i = 0; i < count; i++) {
    if (off + 4 > body.length) throw new ProtocolError(`DataRow ends inside the length of column ${i + 1}`);
    const lenAt = off;
    const len = body.readInt32BE(off);
    off += 4;
    if (len === -1) continue;
    if (len < 0) throw new ProtocolError(`DataRow column ${i + 1} has an invalid length ${len}`);
    if (len > body.length - off) throw new ProtocolError(`DataRow column ${i + 1} runs past the end of the message`);
    const action = plan[i];
    const column = columns[i];
    if (action && column) {
      const value = body.subarray(off, off + len);
      const out = maskValue(value, column, action, ctx);
      if (out !== value) {
        (changes ??= []).push({ lenAt, end: off + len, value: out });
        masked[i] = 1;
      }
    }
    off += len;
  }
  if (off !== body.length) throw new ProtocolError(`DataRow has ${body.length - off} bytes after its last column`);
  if (changes === null) return { frame: frame.raw, masked, changed: false };
  return { frame: encode(body, changes), masked, changed: true };
}

function encode(body: Buffer, changes: readonly Change[]): Buffer {
  let size = body.length;
  for (const c of changes) size += (c.value?.length ?? 0) - (c.end - c.lenAt - 4);
  const out = Buffer.allocUnsafe(5 + size);
  out[0] = DATA_ROW_TAG;
  out.writeInt32BE(size + 4, 1);
  let w = 5;
  let r = 0;
  for (const c of changes) {
    w += body.copy(out, w, r, c.lenAt);
    w = out.writeInt32BE(c.value === null ? -1 : c.value.length, w);
    if (c.value !== null) w += c.value.copy(out, w);
    r = c.end;
  }
  body.copy(out, w, r);
  return out;
}
