/**
 * Writes a batch of frames with one syscall where possible. Frames that are adjacent slices of the same chunk
 * are merged back into one slice, so a chunk of whole frames goes out as it came in; then the batch is written
 * corked, and the caller waits for `drain` when the peer is slow (backpressure).
 */
import type { Writable } from 'node:stream';

export function coalesce(frames: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer | undefined;
  for (const f of frames) {
    if (cur && cur.buffer === f.buffer && cur.byteOffset + cur.length === f.byteOffset) {
      cur = Buffer.from(cur.buffer, cur.byteOffset, cur.length + f.length);
    } else {
      if (cur) out.push(cur);
      cur = f;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** Writes the frames; resolves at once, or after `drain` when the stream's buffer is full. */
export function writeFrames(stream: Writable, frames: readonly Buffer[]): Promise<void> | undefined {
  if (frames.length === 0 || stream.destroyed) return undefined;
  const bufs = coalesce(frames);
  let ok = true;
  if (bufs.length === 1) {
    ok = stream.write(bufs[0]);
  } else {
    stream.cork();
    for (const b of bufs) ok = stream.write(b);
    stream.uncork();
  }
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
