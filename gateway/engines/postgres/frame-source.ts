/**
 * Pulls whole frames off a stream: one at a time during handshakes, in batches (one per chunk) while relaying.
 * The stream is read in paused mode (`readable` + `read()`), so nothing more is read until the caller asks:
 * backpressure for free.
 *
 * It reads like the stream's async iterator did (a chunk per `read()`; the end of the stream is null; an error,
 * or a close before the end, rejects), but an idle session waits here for as long as it is open, so the wait is
 * one pending promise: no async generator, no per-call closures, and nothing of the previous batch kept.
 */
import type { Readable } from 'node:stream';
import type { Frame, Framer } from './protocol/index.js';

const EMPTY = Buffer.alloc(0);

/** What the stream's async iterator rejects with when the stream closes before its end (the code Node uses). */
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

interface Waiter {
  resolve: (frames: Frame[] | null) => void;
  reject: (err: unknown) => void;
}

export class FrameSource {
  readonly framer: Framer;
  readonly #stream: Readable;
  #pending: Frame[] = [];
  /** undefined while the stream is open; null once it ended; the error once it failed or closed early. */
  #done: Error | null | undefined = undefined;
  #waiter: Waiter | null = null;
  #pumping = false;
  /** Bytes read off the stream so far. */
  bytes = 0;

  constructor(stream: Readable, framer: Framer) {
    this.framer = framer;
    this.#stream = stream;
    // `on`, not `once`, for events that come at most once anyway: `once` adds a wrapper object per listener.
    stream.on('readable', () => this.#pump());
    // The first of these decides how the stream ended (`??=` would not do: null, the normal end, is nullish).
    stream.on('end', () => this.#end(null));
    stream.on('error', (err: Error) => this.#end(err));
    stream.on('close', () => this.#end(prematureClose()));
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
      const frames = await this.nextBatch();
      if (frames === null) return null;
      this.#pending.push(...frames);
    }
  }

  /** Every whole frame available after at most one read, or null at the end of the stream. */
  nextBatch(): Promise<Frame[] | null> {
    if (this.#pending.length) return Promise.resolve(this.#pending.splice(0));
    if (this.#waiter) return Promise.reject(new Error('FrameSource: a read is already waiting'));
    return new Promise<Frame[] | null>((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#pump();
    });
  }

  /** Leaves the untagged startup phase; frames already buffered behind the startup packet are kept in order. */
  leaveStartup(): void {
    this.#pending.push(...this.framer.leaveStartup());
  }

  /** Stops reading: destroys the stream. */
  close(): void {
    this.#stream.destroy();
  }

  #end(how: Error | null): void {
    if (this.#done === undefined) this.#done = how;
    this.#pump();
  }

  /** Feeds the waiting read, if any, from what the stream holds; settles it at the end or on an error. */
  #pump(): void {
    const w = this.#waiter;
    if (!w || this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        const chunk = this.#stream.destroyed ? null : (this.#stream.read() as Buffer | null);
        if (chunk === null) {
          if (this.#done === undefined) return; // more is coming: `readable`, `end`, `error` or `close` calls back
          this.#waiter = null;
          const failure = this.#done;
          // Like a finished iterator: the error is thrown once, and later reads see the end.
          this.#done = null;
          if (failure === null) w.resolve(null);
          else w.reject(failure);
          return;
        }
        this.bytes += chunk.length;
        const frames = this.framer.push(chunk);
        if (frames.length) {
          this.#waiter = null;
          w.resolve(frames);
          return;
        }
      }
    } catch (err) {
      this.#waiter = null;
      w.reject(err);
    } finally {
      this.#pumping = false;
    }
  }
}
