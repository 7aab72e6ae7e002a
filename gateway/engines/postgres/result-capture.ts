/**
 * What the client received for a statement, as evidence: the rows exactly as forwarded (after masking), kept up
 * to a row and byte cap, with the true row count and a SHA-256 over every forwarded row, so a sample can be
 * checked against the whole. Text values are kept as text; binary ones as \x-hex.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ReturnedData } from '../../recording/recorder.js';
import { int32At } from './protocol/reader.js';

export interface CaptureLimits {
  rows: number;
  bytes: number;
}

export class ResultCapture {
  readonly #limits: CaptureLimits;
  #hash: Hash | null = null;
  #columns: string[] = [];
  #formats: number[] = [];
  #rows: (string | null)[][] = [];
  #count = 0;
  #bytes = 0;
  #truncated = false;

  constructor(limits: CaptureLimits) {
    this.#limits = limits;
  }

  /** A RowDescription: the columns of the rows that follow. */
  columns(fields: readonly { name: string; format: number }[]): void {
    this.#start();
    this.#columns = fields.map((f) => f.name);
    this.#formats = fields.map((f) => f.format);
  }

  /** A forwarded DataRow frame (tag and length included). */
  row(frame: Buffer): void {
    this.#start();
    this.#hash!.update(frame);
    this.#count++;
    if (this.#rows.length >= this.#limits.rows || this.#bytes + frame.length > this.#limits.bytes) {
      this.#truncated = true;
      return;
    }
    this.#bytes += frame.length;
    this.#rows.push(decodeRow(frame, this.#formats));
  }

  /**
   * Forwarded CopyData: one or more whole messages back to back, so a batch is hashed in one call. A COPY out
   * sends one row per message (the protocol says "always one per row"), so rows are counted as messages, by their
   * headers alone. Until the cap, each row is also kept, as its line of text; after it, a million rows cost a
   * million header reads.
   */
  copyData(messages: Buffer): void {
    this.#start();
    this.#hash!.update(messages);
    if (this.#columns.length === 0) this.#columns = ['copy'];
    let at = 0;
    for (; at + 5 <= messages.length && !this.#truncated; at = messageEnd(messages, at)) this.#copyRow(messages, at + 5, messageEnd(messages, at));
    for (; at + 5 <= messages.length; at = messageEnd(messages, at)) this.#count++;
  }

  /** One CopyData payload, `buf[from, to)`: a row, kept as its line up to the cap, and counted. */
  #copyRow(buf: Buffer, from: number, to: number): void {
    this.#count++;
    const end = to > from && buf[to - 1] === 0x0a ? to - 1 : to;
    const length = end - from;
    if (this.#rows.length >= this.#limits.rows || this.#bytes + length > this.#limits.bytes) {
      this.#truncated = true;
      return;
    }
    this.#bytes += length;
    this.#rows.push([buf.toString('utf8', from, end)]);
  }

  /** What was captured since the last call, or null when no rows came back. */
  take(): ReturnedData | null {
    if (!this.#hash) return null;
    const out: ReturnedData = {
      columns: this.#columns, rows: this.#rows, rowCount: this.#count, truncated: this.#truncated, digest: this.#hash.digest('hex'),
    };
    this.#hash = null;
    this.#columns = [];
    this.#formats = [];
    this.#rows = [];
    this.#count = 0;
    this.#bytes = 0;
    this.#truncated = false;
    return out;
  }

  #start(): void {
    this.#hash ??= createHash('sha256');
  }
}

function decodeRow(frame: Buffer, formats: readonly number[]): (string | null)[] {
  const out: (string | null)[] = [];
  if (frame.length < 7) return out;
  const n = frame.readInt16BE(5);
  let off = 7;
  for (let i = 0; i < n && off + 4 <= frame.length; i++) {
    const len = frame.readInt32BE(off);
    off += 4;
    if (len < 0) {
      out.push(null);
      continue;
    }
    const v = frame.subarray(off, off + len);
    off += len;
    out.push(formats[i] === 1 ? '\\x' + v.toString('hex') : v.toString('utf8'));
  }
  return out;
}

/** Where the message that starts at `at` ends (its length word counts itself, not the tag), within `buf`. */
function messageEnd(buf: Buffer, at: number): number {
  return Math.min(buf.length, at + 1 + Math.max(4, int32At(buf, at + 1)));
}

