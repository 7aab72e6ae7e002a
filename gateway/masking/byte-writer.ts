/**
 * A growing output buffer: rewritten data (a chunk of COPY rows, a run of messages) is written into one Buffer
 * instead of being gathered as a Buffer per field or per row and concatenated.
 *
 * {@link ByteWriter.over} writes over its input instead, for a rewrite that reads the input front to back and
 * mostly shrinks it (masking a run of COPY rows): no second buffer is made, and the bytes that stay are moved with
 * `copyWithin` rather than copied out. The reader tells the writer where its unread input starts
 * ({@link ByteWriter.until}); a write that would reach it moves the writer to a buffer of its own first
 * ({@link ByteWriter.detach}), so unread input is never overwritten.
 */

/**
 * Below this many bytes a copy is a plain loop: `set` needs a typed-array view of the source per call (as does
 * `Buffer.copy`), which costs about as much as looping over 128 bytes (measured: 62 bytes, 42 ns by loop, 87 ns
 * through a view).
 */
const SMALL_COPY = 128;
/** Over the input, moves shorter than this are a forward loop rather than a call to `copyWithin`. */
const SMALL_MOVE = 16;
/** Strings up to this many UTF-16 units are written by a loop while they are ASCII. */
const SHORT_STRING = 64;

const EMPTY = Buffer.alloc(0);

export class ByteWriter {
  readonly #capacity: number;
  #buf: Buffer;
  /** Bytes written so far. */
  length = 0;
  /** Writing over the input ({@link over}): bytes of #buf from #limit on are input not yet read. */
  #inPlace = false;
  #limit = 0;

  /** `capacity`: the size to start with (and to start over with after {@link take}), made at the first write. */
  constructor(capacity = 1024) {
    this.#capacity = Math.max(capacity, 16);
    this.#buf = EMPTY;
  }

  /**
   * A writer over `input` itself, from its start: the caller gives up `input`, which ends up holding the output
   * (or, after a {@link detach}, what was written before it). Every byte of `input` counts as unread until
   * {@link until} says otherwise. Copies from `input` must pass that same Buffer object, from at or after
   * {@link length}.
   */
  static over(input: Buffer): ByteWriter {
    const w = new ByteWriter(input.length + 64);
    w.#buf = input;
    w.#inPlace = true;
    w.#limit = 0;
    return w;
  }

  /** Whether the writer still writes over its input. */
  get inPlace(): boolean {
    return this.#inPlace;
  }

  /** Over the input: bytes from `position` on are still to be read (so far, and until the next call). */
  until(position: number): void {
    this.#limit = position;
  }

  /** Over the input: moves what was written to a buffer of its own, and goes on there. */
  detach(extra = 0): void {
    if (!this.#inPlace) return;
    this.#inPlace = false;
    const own = Buffer.allocUnsafe(Math.max(this.#capacity, this.length + extra));
    this.#buf.copy(own, 0, 0, this.length);
    this.#buf = own;
  }

  /** The underlying buffer: valid up to {@link length}, and only until the next write (a write may grow it). */
  get buffer(): Buffer {
    return this.#buf;
  }

  /** Makes room for `n` more bytes (over the input: below its unread part, or else in a buffer of its own). */
  reserve(n: number): void {
    const need = this.length + n;
    if (this.#inPlace) {
      if (need <= this.#limit) return;
      this.detach(n);
    }
    if (need <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(need, this.#buf.length * 2, this.#capacity));
    this.#buf.copy(grown, 0, 0, this.length);
    this.#buf = grown;
  }

  /** Appends `src[start, end)`. */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.#inPlace && src === this.#buf) {
      this.#moveDown(start, end);
      return;
    }
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

  /** Over the input: appends `buf[start, end)` of the input itself, which lies at or after what was written. */
  #moveDown(start: number, end: number): void {
    const buf = this.#buf;
    const w = this.length;
    if (start < w) throw new RangeError(`ByteWriter: a copy from the input at ${start} would read bytes already overwritten (written up to ${w})`);
    const n = end - start;
    if (start !== w) {
      if (n < SMALL_MOVE) {
        for (let i = 0; i < n; i++) buf[w + i] = buf[start + i] as number; // forward: the target lies below the source
      } else {
        buf.copyWithin(w, start, end);
      }
    }
    this.length = w + n;
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
    if (n <= SHORT_STRING && isAscii(s)) {
      // A masked value is short and mostly ASCII: a loop costs less than the call into Buffer.write.
      this.reserve(n);
      const buf = this.#buf;
      const at = this.length;
      for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i);
      this.length = at + n;
      return n;
    }
    // Exactly (not three bytes per UTF-16 unit): over the input, room is what was freed so far.
    this.reserve(Buffer.byteLength(s, 'utf8'));
    const written = this.#buf.write(s, this.length, 'utf8');
    this.length += written;
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
    this.#inPlace = false;
    this.length = 0;
    return out;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
