/**
 * The order of what the client hears. The gateway adds messages of its own (a refusal, and the ReadyForQuery
 * after it) while the server may still owe answers to messages forwarded before; ours wait behind those answers,
 * so the client sees replies in the order it asked. The server's answers are counted by ReadyForQuery: one is
 * owed for each Query and Sync forwarded. Pure: no I/O.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */
import { encodeReadyForQuery, type TransactionStatusValue } from './protocol/index.js';

/** Gateway-made messages that must reach the client right before or after the server's ReadyForQuery number `ready`. */
interface Injection {
  ready: number;
  position: 'before' | 'after';
  frames: Buffer[];
  /** Append a ReadyForQuery with the transaction status current at that time. */
  withReady: boolean;
}

export class ReplyOrder {
  /** ReadyForQuery answers the server owes (Query and Sync forwarded) and has given. */
  #owed = 0;
  #seen = 0;
  /** Our own messages waiting for the server's answers before them to reach the client. */
  #injections: Injection[] = [];

  /** ReadyForQuery answers owed: also the number of the pipeline being sent. */
  get owed(): number {
    return this.#owed;
  }

  /** ReadyForQuery answers given: also the number of the pipeline being answered. */
  get seen(): number {
    return this.#seen;
  }

  /** True when the server has answered everything forwarded: the gateway's messages can go to the client now. */
  get answered(): boolean {
    return this.#owed === this.#seen;
  }

  /** A Query or Sync forwarded: the server owes one more ReadyForQuery. */
  owe(): void {
    this.#owed++;
  }

  /** Queues frames to go right before the ReadyForQuery the server will send for the Sync ending this pipeline. */
  beforePipelineEnd(frames: Buffer[]): void {
    this.#injections.push({ ready: this.#owed + 1, position: 'before', frames, withReady: false });
  }

  /** Queues frames (and, `withReady`, a ReadyForQuery) to go right after the answers the server still owes. */
  afterAnswers(frames: Buffer[], withReady: boolean): void {
    this.#injections.push({ ready: this.#owed, position: 'after', frames, withReady });
  }

  /**
   * The server's next ReadyForQuery (`raw`, which the caller checked was owed): appends it to `out` with the
   * gateway's messages due right before and after it. A ReadyForQuery added after ours says `status`.
   */
  ready(raw: Buffer, out: Buffer[], status: TransactionStatusValue): void {
    this.#seen++;
    const due = this.#injections.filter((x) => x.ready <= this.#seen);
    if (due.length) this.#injections = this.#injections.filter((x) => x.ready > this.#seen);
    for (const x of due) if (x.position === 'before') out.push(...x.frames);
    out.push(raw);
    for (const x of due) {
      if (x.position !== 'after') continue;
      out.push(...x.frames);
      if (x.withReady) out.push(encodeReadyForQuery(status));
    }
  }
}
