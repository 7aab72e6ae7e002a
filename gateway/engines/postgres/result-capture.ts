/**
 * What the client received for a statement, as evidence: the rows exactly as forwarded (after masking), kept up
 * to a row and byte cap, with the true row count and a SHA-256 over every forwarded row, so a sample can be
 * checked against the whole. Text values are kept as text; binary ones as \x-hex.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ReturnedData } from '../../recording/recorder.js';

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

  /** A forwarded CopyData frame: COPY rows are kept as lines of text (counted only, once the cap is reached). */
  copyData(frame: Buffer): void {
    this.#start();
    this.#hash!.update(frame);
    if (this.#columns.length === 0) this.#columns = ['copy'];
    if (this.#truncated) {
      // Past the cap: count the rows without decoding them (COPY sends a row per message, a million of them).
      for (let i = frame.indexOf(0x0a, 5); i !== -1; i = frame.indexOf(0x0a, i + 1)) this.#count++;
      return;
    }
    const text = frame.subarray(5).toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      this.#count++;
      if (this.#rows.length >= this.#limits.rows || this.#bytes + line.length > this.#limits.bytes) {
        this.#truncated = true;
        continue;
      }
      this.#bytes += line.length;
      this.#rows.push([line]);
    }
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
