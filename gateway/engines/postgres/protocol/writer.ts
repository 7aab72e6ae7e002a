import { ProtocolError } from '../../../../shared/errors.js';

/** One field of a message being encoded. */
export type Part =
  | { i8: number }
  | { i16: number }
  | { i32: number }
  | { u32: number }
  /** A string with its NUL terminator. */
  | { cstr: string }
  | { bytes: Buffer }
  /** An Int32 length then the bytes; null is written as length -1. */
  | { lenBytes: Buffer | string | null };

const INT_RANGES = {
  i8: [0, 0xff],
  i16: [-0x8000, 0xffff], // counts and format codes may be written either way; the bits are the same
  i32: [-0x80000000, 0x7fffffff],
  u32: [0, 0xffffffff],
} as const;

/**
 * Builds one whole frame (tag, Int32 length, body) in a single allocation: the size is computed first.
 * `tag` null makes an untagged startup-phase packet. Throws {@link ProtocolError} on an integer out of range or a
 * string holding NUL, which would otherwise corrupt the framing.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-types.html
 */
export function buildFrame(tag: number | null, parts: readonly Part[]): Buffer {
  const strLens: number[] = [];
  let size = 0;
  for (const p of parts) {
    if ('i8' in p) size += 1;
    else if ('i16' in p) size += 2;
    else if ('i32' in p || 'u32' in p) size += 4;
    else if ('cstr' in p) {
      if (p.cstr.includes('\0')) throw new ProtocolError('cannot encode a string containing NUL');
      const n = Buffer.byteLength(p.cstr, 'utf8');
      strLens.push(n);
      size += n + 1;
    } else if ('bytes' in p) size += p.bytes.length;
    else if (typeof p.lenBytes === 'string') {
      const n = Buffer.byteLength(p.lenBytes, 'utf8');
      strLens.push(n);
      size += 4 + n;
    } else size += 4 + (p.lenBytes?.length ?? 0);
  }
  const header = tag === null ? 4 : 5;
  const length = size + 4;
  if (length > 0x7fffffff) throw new ProtocolError(`message of ${length} bytes is too long to encode`);
  const buf = Buffer.allocUnsafe(header + size);
  let o = 0;
  if (tag !== null) o = buf.writeUInt8(checkInt('i8', tag), o);
  o = buf.writeInt32BE(length, o);
  let s = 0;
  for (const p of parts) {
    if ('i8' in p) o = buf.writeUInt8(checkInt('i8', p.i8), o);
    else if ('i16' in p) o = buf.writeUInt16BE(checkInt('i16', p.i16) & 0xffff, o);
    else if ('i32' in p) o = buf.writeInt32BE(checkInt('i32', p.i32), o);
    else if ('u32' in p) o = buf.writeUInt32BE(checkInt('u32', p.u32), o);
    else if ('cstr' in p) {
      o += buf.write(p.cstr, o, strLens[s++] as number, 'utf8');
      o = buf.writeUInt8(0, o);
    } else if ('bytes' in p) o += p.bytes.copy(buf, o);
    else if (p.lenBytes === null) o = buf.writeInt32BE(-1, o);
    else if (typeof p.lenBytes === 'string') {
      const n = strLens[s++] as number;
      o = buf.writeInt32BE(n, o);
      o += buf.write(p.lenBytes, o, n, 'utf8');
    } else {
      o = buf.writeInt32BE(p.lenBytes.length, o);
      o += p.lenBytes.copy(buf, o);
    }
  }
  return buf;
}

function checkInt(kind: keyof typeof INT_RANGES, v: number): number {
  const [min, max] = INT_RANGES[kind];
  if (!Number.isInteger(v) || v < min || v > max) throw new ProtocolError(`${v} does not fit in ${kind}`);
  return v;
}
