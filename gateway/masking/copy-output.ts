/**
 * Where the bytes of one push of the COPY masker (copy-text.ts) go: rows that stay as they are leave as a slice of
 * their chunk, and a buffer is made only once a value is masked.
 */
import { ByteWriter } from './byte-writer.js';
import { EMPTY } from './copy-bytes.js';

/**
 * Where the bytes of one push go. Unchanged bytes are only noted (`keep`), and consecutive ones merge, so a chunk
 * whose rows all stay the same is returned as a slice of itself; the output buffer is made, and the noted bytes
 * copied into it, at the first masked value (or is given, for `pushMessages`).
 */
export class Output {
  #writer: ByteWriter | null = null;
  #capacity = 0;
  #keptIn: Buffer | null = null;
  #keptFrom = 0;
  #keptTo = 0;

  /** Starts a push: into `writer`, or into a buffer of about `capacity` bytes made when first needed. */
  begin(writer: ByteWriter | null, capacity: number): void {
    this.#writer = writer;
    this.#capacity = capacity;
    this.#keptIn = null;
  }

  /** Passes `buf[from, to)` through unchanged. */
  keep(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.#keptIn === buf && this.#keptTo === from) {
      this.#keptTo = to;
      return;
    }
    this.#flush();
    this.#keptIn = buf;
    this.#keptFrom = from;
    this.#keptTo = to;
  }

  /** The writer to append new bytes to, after everything kept so far. */
  writer(): ByteWriter {
    this.#flush();
    return (this.#writer ??= new ByteWriter(this.#capacity));
  }

  /** Ends a push: what `push` returns. */
  finish(): Buffer {
    if (this.#writer === null) {
      const kept = this.#keptIn;
      this.#keptIn = null;
      if (kept === null) return EMPTY;
      return this.#keptFrom === 0 && this.#keptTo === kept.length ? kept : kept.subarray(this.#keptFrom, this.#keptTo);
    }
    this.#flush();
    const w = this.#writer;
    this.#writer = null;
    return w.take();
  }

  /** Ends a push into a given writer: it has everything. */
  finishInto(): void {
    this.#flush();
    this.#writer = null;
  }

  #flush(): void {
    const kept = this.#keptIn;
    if (kept === null) return;
    this.#keptIn = null;
    (this.#writer ??= new ByteWriter(this.#capacity)).copy(kept, this.#keptFrom, this.#keptTo);
  }
}
