/**
 * A bare PostgreSQL protocol client for tests that need message sequences no driver sends on purpose:
 * pipelines without Sync, several Queries in one write, a Parse of a name in use. It writes exactly the bytes
 * given (built with pg-bytes, which shares no code with the gateway's codec) and reads the answers back as
 * tagged messages.
 */
import { connect, type Socket } from 'node:net';
import { cstr, int16, int32, lenBytes, msg, startup } from './pg-bytes.js';

export interface WireMessage {
  tag: string;
  body: Buffer;
}

export class WireClient {
  readonly #socket: Socket;
  #buf = Buffer.alloc(0);
  #waiting: (() => void) | undefined;
  #ended = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#waiting?.();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#waiting?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to a tunnel port and completes the startup (the gateway asks no password). */
  static async connect(port: number): Promise<WireClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new WireClient(socket);
    socket.write(startup({ user: 'whoever', database: 'shop' }));
    const hello = await c.untilReady();
    if (!hello.some((m) => m.tag === 'R')) throw new Error(`no authentication answer: ${hello.map((m) => m.tag).join('')}`);
    return c;
  }

  send(...messages: Buffer[]): void {
    this.#socket.write(Buffer.concat(messages));
  }

  /** The messages up to and including the `n`th ReadyForQuery (or the close, when the server ends the session). */
  untilReady(n = 1): Promise<WireMessage[]> {
    return this.until('Z', n);
  }

  /** The messages up to and including the `n`th with `tag` (or the close), e.g. 'G' to wait for CopyInResponse as libpq does. */
  async until(tag: string, n = 1): Promise<WireMessage[]> {
    const out: WireMessage[] = [];
    let seen = 0;
    for (;;) {
      while (this.#buf.length >= 5 && this.#buf.length >= 1 + this.#buf.readInt32BE(1)) {
        const len = this.#buf.readInt32BE(1);
        const m = { tag: String.fromCharCode(this.#buf[0]!), body: this.#buf.subarray(5, 1 + len) };
        this.#buf = this.#buf.subarray(1 + len);
        out.push(m);
        if (m.tag === tag && ++seen === n) return out;
      }
      if (this.#ended) return out;
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
      this.#waiting = undefined;
    }
  }

  get closed(): boolean {
    return this.#ended;
  }

  close(): void {
    this.#socket.end(msg('X'));
  }
}

// Frontend messages.
export const query = (sql: string): Buffer => msg('Q', cstr(sql));
export const parse = (name: string, sql: string): Buffer => msg('P', cstr(name), cstr(sql), int16(0));
export const bind = (portal: string, statement: string, params: (string | null)[] = []): Buffer =>
  msg('B', cstr(portal), cstr(statement), int16(0), int16(params.length), ...params.map(lenBytes), int16(0));
export const describe = (target: 'S' | 'P', name: string): Buffer => msg('D', Buffer.from(target), cstr(name));
export const execute = (portal: string, maxRows = 0): Buffer => msg('E', cstr(portal), int32(maxRows));
export const sync = (): Buffer => msg('S');
export const flush = (): Buffer => msg('H');

/** The text values of every DataRow, in order. */
export function rows(messages: readonly WireMessage[]): (string | null)[][] {
  return messages.filter((m) => m.tag === 'D').map(({ body }) => {
    const values: (string | null)[] = [];
    let at = 2;
    for (let i = 0; i < body.readInt16BE(0); i++) {
      const len = body.readInt32BE(at);
      at += 4;
      values.push(len < 0 ? null : body.toString('utf8', at, at + len));
      if (len > 0) at += len;
    }
    return values;
  });
}

/** The fields of every ErrorResponse (and NoticeResponse with tag 'N'), by field letter. */
export function errors(messages: readonly WireMessage[], tag: 'E' | 'N' = 'E'): Record<string, string>[] {
  return messages.filter((m) => m.tag === tag).map(({ body }) => {
    const fields: Record<string, string> = {};
    let at = 0;
    while (at < body.length && body[at] !== 0) {
      const end = body.indexOf(0, at + 1);
      fields[String.fromCharCode(body[at]!)] = body.toString('utf8', at + 1, end);
      at = end + 1;
    }
    return fields;
  });
}

/** The tags of the messages, as one string (e.g. "12TDCZ"), for asserting the shape of an answer. */
export const tags = (messages: readonly WireMessage[]): string => messages.map((m) => m.tag).join('');
