/**
 * A growing output buffer: rewritten data (a chunk of COPY rows, a run of messages) is written into one Buffer
 * instead of being gathered as a Buffer per field or per row and concatenated.
 */

/**
 * Below this many bytes a copy is a plain loop: `set` needs a typed-array view of the source per call (as does
 * `Buffer.copy`), which costs about as much as looping over 128 bytes (measured: 62 bytes, 42 ns by loop, 87 ns
 * through a view).
 */
const SMALL_COPY = 128;
/** Strings up to this many UTF-16 units are written by a loop while they are ASCII. */
const SHORT_STRING = 64;

const EMPTY = Buffer.alloc(0);

export class ByteWriter {
  readonly #capacity: number;
  #buf: Buffer;
  /** Bytes written so far. */
  length = 0;

  /** `capacity`: the size to start with (and to start over with after {@link take}). */
  constructor(capacity = 1024) {
    this.#capacity = Math.max(capacity, 16);
    this.#buf = Buffer.allocUnsafe(this.#capacity);
  }

  /** The underlying buffer: valid up to {@link length}, and only until the next write (a write may grow it). */
  get buffer(): Buffer {
    return this.#buf;
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(need, this.#buf.length * 2, this.#capacity));
    this.#buf.copy(grown, 0, 0, this.length);
    this.#buf = grown;
  }

  /** Appends `src[start, end)`. */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.reserve(n);
    const buf = this.#buf;
    let w = this.length;
    if (n < SMALL_COPY) {
      for (let i = start; i < end; i++) buf[w++] = src[i] as number;
    } else {
      buf.set(src.subarray(start, end), w);
      w += n;
    }
    this.length = w;
  }

  /** Leaves `n` bytes to be filled in later (a length word), and returns where they start. */
  skip(n: number): number {
    this.reserve(n);
    const at = this.length;
    this.length += n;
    return at;
  }

  byte(b: number): void {
    this.reserve(1);
    this.#buf[this.length++] = b;
  }

  /** Appends `s` as UTF-8; returns the number of bytes written. */
  utf8(s: string): number {
    const n = s.length;
    this.reserve(n * 3); // at most three bytes per UTF-16 unit
    const buf = this.#buf;
    const at = this.length;
    if (n <= SHORT_STRING) {
      // A masked value is short and mostly ASCII: a loop costs less than the call into Buffer.write.
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        this.length = at + n;
        return n;
      }
    }
    const written = buf.write(s, at, 'utf8');
    this.length = at + written;
    return written;
  }

  /** Drops everything after the first `length` bytes. */
  truncate(length: number): void {
    if (length < this.length) this.length = length;
  }

  /** What was written, as a slice of the buffer; the writer starts over, with a new buffer at its next write. */
  take(): Buffer {
    const out = this.#buf.subarray(0, this.length);
    this.#buf = EMPTY;
    this.length = 0;
    return out;
  }
}
