import { ProtocolError } from '../../../../shared/errors.js';
import { MAX_STARTUP_LENGTH } from './constants.js';

/**
 * One whole message as it came off the wire.
 *
 * @see https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */
export interface Frame {
  /** The message type byte, or null for the untagged startup-phase packets (StartupMessage, SSLRequest, ...). */
  tag: number | null;
  /** The payload after the length word. */
  body: Buffer;
  /** The whole frame as received, tag and length included, for forwarding untouched. */
  raw: Buffer;
}

export interface FramerOptions {
  /** Start in the startup phase: untagged packets, one per server reply. Use false for the backend direction. */
  startup: boolean;
  /** Largest declared length accepted (the Int32, which counts itself). Startup packets are also capped at {@link MAX_STARTUP_LENGTH}. */
  maxLength: number;
}

export interface Framer {
  /**
   * Adds a chunk and returns the frames it completes. Throws {@link ProtocolError} on a declared length out of
   * range, as soon as the length word is seen; after that the framer stays failed.
   *
   * In the startup phase at most one frame is returned per call: every startup-phase packet waits for a server
   * reply, and bytes after it may belong to a different framing (tagged, or TLS). Call `push(Buffer.alloc(0))` to
   * take the next untagged packet, or {@link Framer.leaveStartup} to read the rest as tagged frames.
   */
  push(chunk: Buffer): Frame[];
  /** Changes the length cap, e.g. from the pre-auth limit to the full one after authentication. */
  setMaxLength(n: number): void;
  /** Switches to tagged frames and returns any whole frames already buffered behind the startup packet. */
  leaveStartup(): Frame[];
  /** Bytes held that do not make a whole frame yet (or wait behind a startup packet). */
  buffered(): number;
}

/**
 * Creates a framer for one direction of one connection.
 *
 * Chunks are queued, not concatenated, so many small chunks cost O(total bytes). A frame that lies inside one
 * chunk is returned as a slice of it; only a frame spanning chunks is copied, once.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
export function createFramer(opts: FramerOptions): Framer {
  checkMax(opts.maxLength);
  return new ChunkFramer(opts.startup, opts.maxLength);
}

/**
 * A class rather than closures: every live connection holds two framers for as long as it is open, and methods
 * on a prototype cost nothing per instance where a closure per method costs a function object each.
 */
class ChunkFramer implements Framer {
  #maxLength: number;
  #startup: boolean;
  #failed: ProtocolError | null = null;
  #chunks: Buffer[] = [];
  /** Index of the oldest chunk still holding bytes. */
  #first = 0;
  #total = 0;
  /** The header of the frame being assembled, once read: the body is not buffered until the length passed the checks. */
  #pending: { tag: number | null; size: number } | null = null;

  constructor(startup: boolean, maxLength: number) {
    this.#startup = startup;
    this.#maxLength = maxLength;
  }

  push(chunk: Buffer): Frame[] {
    if (this.#failed) throw this.#failed;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#total += chunk.length;
    }
    return this.#drain();
  }

  setMaxLength(n: number): void {
    checkMax(n);
    this.#maxLength = n;
  }

  leaveStartup(): Frame[] {
    if (this.#failed) throw this.#failed;
    if (!this.#startup) return [];
    this.#startup = false;
    // A startup header read but not completed cannot be reinterpreted; that only happens if the caller left early.
    if (this.#pending !== null) this.#fail('left the startup phase in the middle of a startup packet');
    return this.#drain();
  }

  buffered(): number {
    return this.#total;
  }

  #peekHeader(n: number): Buffer {
    const chunks = this.#chunks;
    const head = chunks[this.#first];
    if (head !== undefined && head.length >= n) return head;
    const out = Buffer.alloc(n);
    let filled = 0;
    for (let i = this.#first; filled < n && i < chunks.length; i++) {
      const c = chunks[i] as Buffer;
      filled += c.copy(out, filled, 0, Math.min(c.length, n - filled));
    }
    return out;
  }

  #take(n: number): Buffer {
    this.#total -= n;
    const head = this.#chunks[this.#first] as Buffer;
    if (head.length >= n) {
      this.#consumeHead(head, n);
      return head.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[this.#first] as Buffer;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      this.#consumeHead(c, k);
    }
    return out;
  }

  #consumeHead(head: Buffer, n: number): void {
    const chunks = this.#chunks;
    if (n < head.length) {
      chunks[this.#first] = head.subarray(n);
      return;
    }
    this.#first++;
    if (this.#first === chunks.length) {
      chunks.length = 0;
      this.#first = 0;
    } else if (this.#first >= 1024 && this.#first * 2 >= chunks.length) {
      chunks.splice(0, this.#first);
      this.#first = 0;
    }
  }

  #fail(message: string): never {
    this.#failed = new ProtocolError(message);
    this.#chunks.length = 0;
    this.#first = 0;
    this.#total = 0;
    this.#pending = null;
    throw this.#failed;
  }

  #next(): Frame | null {
    const startup = this.#startup;
    const headerLen = startup ? 4 : 5;
    if (this.#pending === null) {
      if (this.#total < headerLen) return null;
      const header = this.#peekHeader(headerLen);
      const tag = startup ? null : (header[0] as number);
      const len = header.readInt32BE(startup ? 0 : 1);
      const min = startup ? 8 : 4;
      const max = startup ? Math.min(this.#maxLength, MAX_STARTUP_LENGTH) : this.#maxLength;
      const what = tag === null ? 'startup packet' : `message of type ${describeTag(tag)}`;
      if (len < min) this.#fail(`${what} declares length ${len}, below the minimum ${min}`);
      if (len > max) this.#fail(`${what} declares length ${len}, above the limit ${max}`);
      this.#pending = { tag, size: headerLen - 4 + len };
    }
    if (this.#total < this.#pending.size) return null;
    const { tag, size } = this.#pending;
    const raw = this.#take(size);
    this.#pending = null;
    return { tag, body: raw.subarray(headerLen), raw };
  }

  #drain(): Frame[] {
    const frames: Frame[] = [];
    for (;;) {
      const f = this.#next();
      if (f === null) break;
      frames.push(f);
      if (this.#startup) break;
    }
    return frames;
  }
}

function checkMax(n: number): void {
  if (!Number.isInteger(n) || n < 8 || n > 0x7fffffff) {
    throw new ProtocolError(`invalid frame length limit ${n}: expected an integer from 8 to 2^31-1`);
  }
}

function describeTag(tag: number): string {
  return tag >= 0x20 && tag < 0x7f ? `'${String.fromCharCode(tag)}'` : `0x${tag.toString(16).padStart(2, '0')}`;
}
