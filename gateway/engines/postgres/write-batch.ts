/**
 * Writes a batch of frames as one buffer. Frames that are adjacent slices of the same chunk are merged back
 * into one slice without copying, so a chunk of whole frames goes out as it came in; anything else is
 * concatenated once. The caller waits for `drain` when the peer is slow (backpressure).
 */
import type { Writable } from 'node:stream';
import { drainedOrClosed } from '../../../shared/net/drained.js';

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

/** `frames` back to back in one buffer: a slice of their chunk when they lie next to each other in it, else a copy. */
export function joinFrames(frames: readonly Buffer[]): Buffer {
  const bufs = coalesce(frames);
  return bufs.length === 1 ? (bufs[0] as Buffer) : Buffer.concat(bufs);
}

/** Writes the frames as one buffer; resolves at once, or after `drain` when the stream's buffer is full. */
export function writeFrames(stream: Writable, frames: readonly Buffer[]): Promise<void> | undefined {
  if (frames.length === 0 || stream.destroyed) return undefined;
  // One write, so a WebSocket stream sends one message (it turns every write into its own message and the agent
  // into its own write(2)); the copy costs less than the messages it saves.
  const ok = stream.write(joinFrames(frames));
  if (ok) return undefined;
  return drainedOrClosed(stream);
}
