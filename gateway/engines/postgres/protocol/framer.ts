import { ProtocolError } from '../../../../shared/errors.js';
import { BackendTag, MAX_STARTUP_LENGTH } from './constants.js';
import { int32At } from './reader.js';

const COPY_DATA = BackendTag.CopyData;

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
  /**
   * How many messages `raw` holds: 1, or more for a run of CopyData messages from a framer made with
   * `copyRuns` (see {@link FramerOptions.copyRuns}). A run has no single `body`: reading it throws.
   */
  readonly count: number;
}

export interface FramerOptions {
  /** Start in the startup phase: untagged packets, one per server reply. Use false for the backend direction. */
  startup: boolean;
  /** Largest declared length accepted (the Int32, which counts itself). Startup packets are also capped at {@link MAX_STARTUP_LENGTH}. */
  maxLength: number;
  /**
   * Hand out consecutive whole CopyData messages that lie in one chunk as one frame (`count` > 1). A COPY out
   * sends a CopyData message per row (the protocol says so: "always one per row"), so a 64 KiB read holds hundreds
   * of them; as one frame they are framed by a tight loop over their headers, not an object each.
   */
  copyRuns?: boolean;
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
 * A frame as the framer hands it out: where its bytes are in the chunk it came in. The frame and its body are
 * sliced off only when read: a relay forwards most frames without looking inside, and a run of them (a COPY out is
 * a CopyData frame per row) goes out as one slice of their chunk ({@link wireBytes}).
 */
class WireFrame implements Frame {
  readonly tag: number | null;
  readonly count: number;
  readonly #chunk: Buffer;
  readonly #start: number;
  readonly #end: number;
  readonly #headerLen: number;
  #raw: Buffer | undefined;
  #body: Buffer | undefined;

  constructor(tag: number | null, chunk: Buffer, start: number, end: number, headerLen: number, count = 1) {
    this.tag = tag;
    this.count = count;
    this.#chunk = chunk;
    this.#start = start;
    this.#end = end;
    this.#headerLen = headerLen;
  }

  get raw(): Buffer {
    return (this.#raw ??= this.#start === 0 && this.#end === this.#chunk.length ? this.#chunk : this.#chunk.subarray(this.#start, this.#end));
  }

  get body(): Buffer {
    if (this.count !== 1) throw new ProtocolError(`a run of ${this.count} CopyData messages has no single body; read raw`);
    return (this.#body ??= this.raw.subarray(this.#headerLen));
  }

  /** {@link wireBytes}: frames that follow each other in one chunk are joined as one slice of it. */
  static join(frames: readonly Frame[]): Buffer {
    const spans: Buffer[] = [];
    let chunk: Buffer | null = null;
    let start = 0;
    let end = 0;
    for (const f of frames) {
      if (f instanceof WireFrame && f.#chunk === chunk && f.#start === end) {
        end = f.#end;
        continue;
      }
      if (chunk !== null) spans.push(chunk.subarray(start, end));
      if (f instanceof WireFrame) {
        chunk = f.#chunk;
        start = f.#start;
        end = f.#end;
      } else {
        chunk = f.raw;
        start = 0;
        end = chunk.length;
      }
    }
    if (chunk !== null) spans.push(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
    return spans.length === 1 ? (spans[0] as Buffer) : Buffer.concat(spans);
  }
}

/**
 * The wire bytes of consecutive frames, back to back in one buffer: a slice of their chunk when they came in one
 * (without slicing each frame), else a copy.
 */
export function wireBytes(frames: readonly Frame[]): Buffer {
  return WireFrame.join(frames);
}

/**
 * Creates a framer for one direction of one connection.
 *
 * Chunks are queued, not concatenated, so many small chunks cost O(total bytes). A frame that lies inside one
 * chunk is returned as a slice of it; only a frame spanning chunks is copied, once. The oldest chunk is read
 * through an offset rather than re-sliced after every frame.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
export function createFramer(opts: FramerOptions): Framer {
  checkMax(opts.maxLength);
  return new ChunkFramer(opts.startup, opts.maxLength, opts.copyRuns === true);
}

/**
 * A class rather than closures: every live connection holds two framers for as long as it is open, and methods
 * on a prototype cost nothing per instance where a closure per method costs a function object each.
 */
class ChunkFramer implements Framer {
  #maxLength: number;
  #startup: boolean;
  readonly #copyRuns: boolean;
  #failed: ProtocolError | null = null;
  #chunks: Buffer[] = [];
  /** Index of the oldest chunk still holding bytes. */
  #first = 0;
  /** Bytes of chunks[#first] already taken. */
  #offset = 0;
  #total = 0;
  /**
   * The frame being assembled, once its header was read: the body is not buffered until the length passed the
   * checks. #pendingSize < 0: no header read yet.
   */
  #pendingTag: number | null = null;
  #pendingSize = -1;

  constructor(startup: boolean, maxLength: number, copyRuns: boolean) {
    this.#startup = startup;
    this.#maxLength = maxLength;
    this.#copyRuns = copyRuns;
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
    if (this.#pendingSize >= 0) this.#fail('left the startup phase in the middle of a startup packet');
    return this.#drain();
  }

  buffered(): number {
    return this.#total;
  }

  /** The first `n` header bytes not yet taken (n <= total): the oldest chunk and where they start in it, or a copy. */
  #peek(n: number): { buf: Buffer; at: number } {
    const chunks = this.#chunks;
    const head = chunks[this.#first] as Buffer;
    if (head.length - this.#offset >= n) return { buf: head, at: this.#offset };
    const out = Buffer.alloc(n);
    let filled = 0;
    for (let i = this.#first, from = this.#offset; filled < n && i < chunks.length; i++, from = 0) {
      const c = chunks[i] as Buffer;
      filled += c.copy(out, filled, from, Math.min(c.length, from + n - filled));
    }
    return { buf: out, at: 0 };
  }

  /** Takes the next `n` bytes as a frame: in place in the oldest chunk when they lie in it, else copied out. */
  #take(tag: number | null, n: number, headerLen: number): WireFrame {
    this.#total -= n;
    const head = this.#chunks[this.#first] as Buffer;
    if (head.length - this.#offset >= n) {
      const frame = new WireFrame(tag, head, this.#offset, this.#offset + n, headerLen);
      this.#advance(head, n);
      return frame;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[this.#first] as Buffer;
      const k = Math.min(c.length - this.#offset, n - filled);
      c.copy(out, filled, this.#offset, this.#offset + k);
      filled += k;
      this.#advance(c, k);
    }
    return new WireFrame(tag, out, 0, n, headerLen);
  }

  /** Marks `n` more bytes of the oldest chunk as taken. */
  #advance(head: Buffer, n: number): void {
    this.#offset += n;
    if (this.#offset < head.length) return;
    this.#offset = 0;
    this.#first++;
    if (this.#first === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#first = 0;
    } else if (this.#first >= 1024 && this.#first * 2 >= this.#chunks.length) {
      this.#chunks.splice(0, this.#first);
      this.#first = 0;
    }
  }

  #fail(message: string): never {
    this.#failed = new ProtocolError(message);
    this.#chunks = [];
    this.#first = 0;
    this.#offset = 0;
    this.#total = 0;
    this.#pendingSize = -1;
    throw this.#failed;
  }

  #next(): Frame | null {
    const startup = this.#startup;
    const headerLen = startup ? 4 : 5;
    if (this.#pendingSize < 0) {
      if (this.#total < headerLen) return null;
      const head = this.#chunks[this.#first] as Buffer;
      const inHead = head.length - this.#offset >= headerLen;
      const { buf, at } = inHead ? { buf: head, at: this.#offset } : this.#peek(headerLen);
      const tag = startup ? null : (buf[at] as number);
      const len = buf.readInt32BE(startup ? at : at + 1);
      const min = startup ? 8 : 4;
      const max = startup ? Math.min(this.#maxLength, MAX_STARTUP_LENGTH) : this.#maxLength;
      const what = tag === null ? 'startup packet' : `message of type ${describeTag(tag)}`;
      if (len < min) this.#fail(`${what} declares length ${len}, below the minimum ${min}`);
      if (len > max) this.#fail(`${what} declares length ${len}, above the limit ${max}`);
      this.#pendingTag = tag;
      this.#pendingSize = headerLen - 4 + len;
    }
    if (this.#total < this.#pendingSize) return null;
    const size = this.#pendingSize;
    this.#pendingSize = -1;
    if (this.#copyRuns && this.#pendingTag === COPY_DATA) {
      const head = this.#chunks[this.#first] as Buffer;
      const start = this.#offset;
      if (head.length - start >= size) return this.#copyRun(head, start, start + size);
    }
    return this.#take(this.#pendingTag, size, headerLen);
  }

  /**
   * The CopyData message `head[start, end)` and the whole, valid CopyData messages right after it in the same
   * chunk, as one frame. A message that is cut by the chunk's end, too long, or of another type ends the run; the
   * framer reads it as usual next time (and fails on a bad length there).
   */
  #copyRun(head: Buffer, start: number, end: number): WireFrame {
    let count = 1;
    const max = this.#maxLength;
    const limit = head.length;
    while (end + 5 <= limit && head[end] === COPY_DATA) {
      const len = int32At(head, end + 1);
      if (len < 4 || len > max || end + 1 + len > limit) break;
      end += 1 + len;
      count++;
    }
    const frame = new WireFrame(COPY_DATA, head, start, end, 5, count);
    this.#total -= end - start;
    this.#advance(head, end - start);
    return frame;
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
