/**
 * Byte-level helpers of the COPY masker (copy-text.ts): reading and writing CopyData headers, finding bytes, and
 * comparing a field with a constant, on the per-row path, so they read buffers by index and check nothing twice.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYDATA
 */
import { HoopError, ProtocolError } from '../../shared/errors.js';

export const EMPTY: Buffer = Buffer.alloc(0);
/** The CopyData message's type byte, 'd'. */
export const COPY_DATA = 0x64;

/** COPY's one-byte option `name` (DELIMITER, QUOTE, ESCAPE) as a byte. */
export function oneByte(name: string, s: string): number {
  const b = Buffer.from(s, 'utf8');
  if (b.length !== 1) throw new HoopError('internal', `COPY ${name} must be a single one-byte character, got ${JSON.stringify(s)}`);
  return b[0] as number;
}

/** Index of the first `byte` at or after `from`, or the buffer's length when there is none. */
export function indexOrEnd(buf: Buffer, byte: number, from: number): number {
  const i = buf.indexOf(byte, from);
  return i < 0 ? buf.length : i;
}

/** Index of the first `byte` in `buf[from, to)`, or -1. */
export function indexWithin(buf: Buffer, byte: number, from: number, to: number): number {
  const i = to === buf.length ? buf.indexOf(byte, from) : buf.subarray(0, to).indexOf(byte, from);
  return i < to ? i : -1;
}

/** The big-endian int32 at `at` (read by hand: Buffer's reader checks its arguments on every call). */
export function readInt32(buf: Buffer, at: number): number {
  return ((buf[at] as number) << 24) | ((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number);
}

/** Fills in a CopyData header left at `at`: the tag and `length` (which counts itself). */
export function writeHeader(buf: Buffer, at: number, length: number): void {
  if (length > 0x7fffffff) throw new ProtocolError(`masked CopyData of ${length} bytes is too long to encode`);
  buf[at] = COPY_DATA;
  buf[at + 1] = length >>> 24;
  buf[at + 2] = (length >>> 16) & 0xff;
  buf[at + 3] = (length >>> 8) & 0xff;
  buf[at + 4] = length & 0xff;
}

/** Whether `buf[start, end)` holds exactly the bytes of `ref`. */
export function bytesEqual(buf: Buffer, start: number, end: number, ref: Buffer): boolean {
  if (end - start !== ref.length) return false;
  for (let i = 0; i < ref.length; i++) if (buf[start + i] !== ref[i]) return false;
  return true;
}
