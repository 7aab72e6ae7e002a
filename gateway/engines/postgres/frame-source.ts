/**
 * Pulls whole frames off a stream: one at a time during handshakes, in batches (one per chunk) while relaying.
 * Reading through the stream's async iterator gives backpressure for free: nothing more is read until the
 * caller asks.
 */
import type { Readable } from 'node:stream';
import type { Frame, Framer } from './protocol/index.js';

const EMPTY = Buffer.alloc(0);

export class FrameSource {
  readonly framer: Framer;
  readonly #it: AsyncIterator<Buffer>;
  #pending: Frame[] = [];
  /** Bytes read off the stream so far. */
  bytes = 0;

  constructor(stream: Readable, framer: Framer) {
    this.framer = framer;
    this.#it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** The next frame, or null at the end of the stream. */
  async next(): Promise<Frame | null> {
    for (;;) {
      if (this.#pending.length) return this.#pending.shift()!;
      // In the startup phase the framer hands out one packet per push; ask for the next one it holds.
      const held = this.framer.push(EMPTY);
      if (held.length) {
        this.#pending.push(...held);
        continue;
      }
      const r = await this.#it.next();
      if (r.done) return null;
      this.bytes += r.value.length;
      this.#pending.push(...this.framer.push(r.value));
    }
  }

  /** Every whole frame available after at most one read, or null at the end of the stream. */
  async nextBatch(): Promise<Frame[] | null> {
    for (;;) {
      if (this.#pending.length) return this.#pending.splice(0);
      const r = await this.#it.next();
      if (r.done) return null;
      this.bytes += r.value.length;
      const frames = this.framer.push(r.value);
      if (frames.length) return frames;
    }
  }

  /** Leaves the untagged startup phase; frames already buffered behind the startup packet are kept in order. */
  leaveStartup(): void {
    this.#pending.push(...this.framer.leaveStartup());
  }

  /** Stops reading (ends the iterator, which destroys the stream). */
  async close(): Promise<void> {
    await this.#it.return?.();
  }
}
