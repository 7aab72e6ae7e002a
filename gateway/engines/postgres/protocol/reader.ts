import { ProtocolError } from '../../../../shared/errors.js';

/**
 * The big-endian Int32 at `at`, read by hand: for loops over many message headers (a COPY's rows), where
 * Buffer's `readInt32BE` checks its arguments on every call. The caller keeps `at + 4` within `buf`.
 */
export function int32At(buf: Buffer, at: number): number {
  return ((buf[at] as number) << 24) | ((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number);
}

/**
 * A bounds-checked reader over one message body.
 *
 * Each decode call makes its own reader, so the cursor never outlives the call. Reads go through Buffer's
 * own `read*` methods, which honour `byteOffset` on pooled buffers. Slices returned by {@link bytes} and
 * {@link rest} share memory with the input (no copy).
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-types.html
 */
export class Reader {
  private offset = 0;

  constructor(
    private readonly buf: Buffer,
    /** Names the message in error text, e.g. "Bind". */
    private readonly what: string,
  ) {}

  /** Bytes not read yet. */
  remaining(): number {
    return this.buf.length - this.offset;
  }

  uint8(): number {
    this.need(1, 'Byte1');
    const v = this.buf.readUInt8(this.offset);
    this.offset += 1;
    return v;
  }

  int16(): number {
    this.need(2, 'Int16');
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  uint16(): number {
    this.need(2, 'Int16');
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4, 'Int32');
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** An Int32 read as unsigned: OIDs. */
  uint32(): number {
    this.need(4, 'Int32');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A NUL-terminated string, decoded as UTF-8 (invalid sequences become U+FFFD; the raw frame is what is forwarded). */
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw this.error('string is missing its NUL terminator');
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  /** `n` bytes, as a slice of the input. */
  bytes(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0) throw this.error(`invalid byte count ${n}`);
    this.need(n, `Byte${n}`);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** Everything not read yet, as a slice of the input. */
  rest(): Buffer {
    const v = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return v;
  }

  /** An Int32 length followed by that many bytes; -1 means NULL. */
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < 0) throw this.error(`invalid value length ${len}`);
    return this.bytes(len);
  }

  /** A count followed by that many items. PostgreSQL reads Int16 counts as unsigned (up to 65535 parameters). */
  array<T>(read: (r: Reader) => T): T[] {
    const n = this.uint16();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }

  /** Throws unless the whole body was consumed: trailing bytes mean a malformed or smuggled message. */
  end(): void {
    if (this.offset !== this.buf.length) throw this.error(`${this.buf.length - this.offset} unexpected trailing bytes`);
  }

  error(message: string): ProtocolError {
    return new ProtocolError(`malformed ${this.what} message: ${message}`);
  }

  private need(n: number, kind: string): void {
    if (this.buf.length - this.offset < n) {
      throw this.error(`${kind} at offset ${this.offset} runs past the end (${this.buf.length} bytes)`);
    }
  }
}
