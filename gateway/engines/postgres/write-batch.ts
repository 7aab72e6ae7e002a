/**
 * Writes a batch of frames in as few writes as it takes without copying much. Frames that are adjacent slices of
 * the same chunk are merged back into one slice without copying, so a chunk of whole frames goes out as it came
 * in; small pieces are concatenated, and a large piece goes out as it is, in a write of its own. The caller waits
 * for `drain` when the peer is slow (backpressure).
 */
import type { Writable } from 'node:stream';

/**
 * A piece at least this long is written as it is, not copied into one buffer with its neighbours: a write more
 * (one WebSocket message and one agent `write(2)`, a few µs) costs less than copying it, and a new buffer that
 * size per batch makes V8 collect its old generation every few hundred milliseconds of a COPY.
 */
const WRITE_AS_IS = 16 * 1024;

export function coalesce(frames: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer | undefined;
  let curBuffer: ArrayBufferLike | undefined; // cur.buffer and cur's end in it, read once (typed-array getters)
  let curEnd = 0;
  const flush = (c: Buffer): void => {
    const length = curEnd - c.byteOffset;
    out.push(length === c.length ? c : Buffer.from(c.buffer, c.byteOffset, length));
  };
  for (const f of frames) {
    const offset = f.byteOffset;
    if (cur && offset === curEnd && f.buffer === curBuffer) {
      curEnd += f.length;
    } else {
      if (cur) flush(cur);
      cur = f;
      curBuffer = f.buffer;
      curEnd = offset + f.length;
    }
  }
  if (cur) flush(cur);
  return out;
}


/**
 * The buffers to write for `frames`: adjacent slices merged, runs of small pieces joined (a WebSocket stream turns
 * every write into its own message, and the agent into its own `write(2)`: for small pieces the copy costs less
 * than the messages it saves), large pieces as they are.
 */
export function writeBuffers(frames: readonly Buffer[]): Buffer[] {
  const bufs = coalesce(frames);
  if (bufs.length === 1) return bufs;
  const out: Buffer[] = [];
  let small: Buffer[] = [];
  const flushSmall = (): void => {
    if (small.length > 0) out.push(small.length === 1 ? (small[0] as Buffer) : Buffer.concat(small));
    small = [];
  };
  for (const b of bufs) {
    if (b.length >= WRITE_AS_IS) {
      flushSmall();
      out.push(b);
    } else {
      small.push(b);
    }
  }
  flushSmall();
  return out;
}

/** Writes the frames (see {@link writeBuffers}); resolves at once, or after `drain` when the stream's buffer is full. */
export function writeFrames(stream: Writable, frames: readonly Buffer[]): Promise<void> | undefined {
  if (frames.length === 0 || stream.destroyed) return undefined;
  let ok = true;
  for (const b of writeBuffers(frames)) ok = stream.write(b) && ok;
  if (ok) return undefined;
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
