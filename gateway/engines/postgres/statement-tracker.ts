/**
 * Follows statements through the PostgreSQL protocol so each can be recorded with its outcome: a simple Query
 * ends at ReadyForQuery; an extended-protocol Execute ends at CommandComplete, EmptyQueryResponse,
 * PortalSuspended or ErrorResponse. After an error the server skips everything up to Sync, so Executes queued
 * behind it end as "skipped". Pure: no I/O.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */
import { commandTagRows, type ErrorFields } from './protocol/index.js';

export interface TrackedStatement {
  seq: number;
  text: string;
  parameters: (string | null)[] | null;
  protocol: 'simple' | 'extended';
  startedAt: number; // ms, from the injected clock
}

export interface FinishedStatement extends TrackedStatement {
  durationMs: number;
  rows: number | null;
  commandTag: string | null;
  errorCode: string | null;
  errorMessage: string | null;
}

type Entry =
  | { kind: 'stmt'; stmt: TrackedStatement; untilReady: boolean; rows: number | null; tag: string | null; error: ErrorFields | null }
  | { kind: 'sync' };

const MAX_PARAM_CHARS = 4096;

/** Bind parameters as recorded and as approvals hash them: text as sent, binary as \\x-hex, each capped. */
export function paramsAsText(params: readonly (Buffer | null)[], formats: readonly number[]): (string | null)[] {
  return params.map((p, i) => {
    if (p === null) return null;
    const binary = (formats.length === 1 ? formats[0] : formats[i]) === 1;
    const s = binary ? '\\x' + p.subarray(0, MAX_PARAM_CHARS / 2).toString('hex') : p.toString('utf8', 0, Math.min(p.length, MAX_PARAM_CHARS));
    return p.length > (binary ? MAX_PARAM_CHARS / 2 : MAX_PARAM_CHARS) ? s + '…' : s;
  });
}

export class StatementTracker {
  readonly #queue: Entry[] = [];
  readonly #now: () => number;
  #seq = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  get count(): number {
    return this.#seq;
  }

  /** A simple-protocol Query (or fast-path FunctionCall): one entry that ends at ReadyForQuery. */
  query(text: string): TrackedStatement {
    const stmt: TrackedStatement = { seq: ++this.#seq, text, parameters: null, protocol: 'simple', startedAt: this.#now() };
    this.#queue.push({ kind: 'stmt', stmt, untilReady: true, rows: null, tag: null, error: null });
    return stmt;
  }

  /** A statement refused before it reached the server: numbered, never queued for an answer. */
  refused(text: string, parameters: (string | null)[] | null, protocol: 'simple' | 'extended'): TrackedStatement {
    return { seq: ++this.#seq, text, parameters, protocol, startedAt: this.#now() };
  }

  /** An Execute of a portal bound to `text` with `parameters` (the session keeps portals by name). */
  execute(text: string, parameters: (string | null)[] | null): TrackedStatement {
    const stmt: TrackedStatement = { seq: ++this.#seq, text, parameters, protocol: 'extended', startedAt: this.#now() };
    this.#queue.push({ kind: 'stmt', stmt, untilReady: false, rows: null, tag: null, error: null });
    return stmt;
  }

  /** Forgets a statement that was refused before it reached the server. */
  discard(seq: number): void {
    const i = this.#queue.findIndex((e) => e.kind === 'stmt' && e.stmt.seq === seq);
    if (i >= 0) this.#queue.splice(i, 1);
  }

  sync(): void {
    this.#queue.push({ kind: 'sync' });
  }

  /** CommandComplete: returns the statement it ends, if it ends one. */
  commandComplete(tag: string): FinishedStatement[] {
    const e = this.#head();
    if (!e) return [];
    const n = commandTagRows(tag);
    e.rows = n === null ? e.rows : (e.rows ?? 0) + n;
    e.tag = tag;
    return e.untilReady ? [] : this.#finishHead();
  }

  emptyQuery(): FinishedStatement[] {
    const e = this.#head();
    if (!e) return [];
    return e.untilReady ? [] : this.#finishHead();
  }

  portalSuspended(): FinishedStatement[] {
    const e = this.#head();
    if (!e) return [];
    e.tag = 'SUSPENDED';
    return e.untilReady ? [] : this.#finishHead();
  }

  error(fields: ErrorFields): FinishedStatement[] {
    const e = this.#head();
    if (!e) return [];
    e.error ??= fields;
    return e.untilReady ? [] : this.#finishHead();
  }

  /** ReadyForQuery: ends the simple query in flight, or everything up to and including the next Sync. */
  ready(): FinishedStatement[] {
    const out: FinishedStatement[] = [];
    while (this.#queue.length) {
      const e = this.#queue.shift()!;
      if (e.kind === 'sync') break;
      if (!e.untilReady && !e.error) e.error = { M: 'skipped: an earlier message in the same pipeline failed' };
      out.push(this.#finish(e));
      if (e.untilReady) break;
    }
    return out;
  }

  /** Statements still open when the session ends. */
  drain(): FinishedStatement[] {
    const out: FinishedStatement[] = [];
    for (const e of this.#queue.splice(0)) {
      if (e.kind === 'stmt') {
        e.error ??= { M: 'session ended before the statement completed' };
        out.push(this.#finish(e));
      }
    }
    return out;
  }

  /** The statement the server is answering now: always the queue's head (finished ones leave the queue). */
  #head(): Extract<Entry, { kind: 'stmt' }> | undefined {
    const e = this.#queue[0];
    return e?.kind === 'stmt' ? e : undefined;
  }

  #finishHead(): FinishedStatement[] {
    return [this.#finish(this.#queue.shift() as Extract<Entry, { kind: 'stmt' }>)];
  }

  #finish(e: Extract<Entry, { kind: 'stmt' }>): FinishedStatement {
    return {
      ...e.stmt,
      durationMs: this.#now() - e.stmt.startedAt,
      rows: e.rows,
      commandTag: e.tag,
      errorCode: e.error?.C ?? null,
      errorMessage: e.error?.M ?? null,
    };
  }
}
