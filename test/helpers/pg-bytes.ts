/**
 * An independent byte builder for PostgreSQL wire fixtures. It shares no code with the codec under test:
 * every value is written by hand with Buffer primitives, so a bug in the encoders cannot hide in the fixtures.
 */

export function int8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}

export function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A UTF-8 string and its NUL terminator. */
export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

/** A length-prefixed value as in DataRow or Bind; null is length -1. */
export function lenBytes(v: Buffer | string | null): Buffer {
  if (v === null) return int32(-1);
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  return Buffer.concat([int32(b.length), b]);
}

/** A tagged message: the tag character, an Int32 length counting itself, then the parts. */
export function msg(tag: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(tag, 'latin1'), int32(body.length + 4), body]);
}

/** An untagged startup-phase packet. */
export function untagged(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
}

/** A StartupMessage with protocol 3.0 unless told otherwise. */
export function startup(params: Record<string, string>, version = 196608): Buffer {
  const pairs = Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]);
  return untagged(int32(version), ...pairs, Buffer.from([0]));
}

export function sslRequest(): Buffer {
  return untagged(int32(80877103));
}

export function cancelRequest(pid: number, secret: Buffer): Buffer {
  return untagged(int32(80877102), int32(pid), secret);
}

/** The body of a frame: everything after the tag (if any) and the length word. */
export function bodyOf(frame: Buffer, tagged = true): Buffer {
  return frame.subarray(tagged ? 5 : 4);
}
