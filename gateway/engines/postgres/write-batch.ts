/**
 * Writes a batch of frames as one buffer. Frames that are adjacent slices of the same chunk are merged back
 * into one slice without copying, so a chunk of whole frames goes out as it came in; anything else is
 * concatenated once. The caller waits for `drain` when the peer is slow (backpressure).
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

/** Writes the frames as one buffer; resolves at once, or after `drain` when the stream's buffer is full. */
export function writeFrames(stream: Writable, frames: readonly Buffer[]): Promise<void> | undefined {
  if (frames.length === 0 || stream.destroyed) return undefined;
  const bufs = coalesce(frames);
  // One write, so a WebSocket stream sends one message (it turns every write into its own message and the agent
  // into its own write(2)); the copy costs less than the messages it saves.
  const ok = stream.write(bufs.length === 1 ? bufs[0] : Buffer.concat(bufs));
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
