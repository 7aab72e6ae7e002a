/**
 * COPY FROM STDIN as the session follows it. In copy-in mode the server ignores Sync and Flush, so a Sync the
 * client sends then (libpq sends one right after the Execute) must not be counted as a ReadyForQuery owed; and
 * only COPY data may come, since anything else could not be paired with the server's answers. Pure: no I/O.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-COPY
 */
import { HoopError } from '../../../shared/errors.js';
import type { StatementFacts } from '../../policy/sql/facts.js';
import { BackendTag, FrontendTag, type Frame } from './protocol/index.js';

/** A COPY … FROM STDIN (data from the client). */
export function isCopyIn(f: StatementFacts): boolean {
  return f.copy?.direction === 'from' && f.copy.stdio;
}

/** The COPY FROM STDIN in progress, if any. Made by the session on its first such COPY. */
export class CopyInState {
  #active = false;
  /** Started by an Execute (extended protocol) rather than a simple Query. */
  #extended = false;
  /** Simple protocol: the COPY is over once the server has sent this many ReadyForQuery. */
  #unit = 0;
  /** The server answered with CopyInResponse: the COPY runs. */
  #started = false;
  /** Syncs sent before the server's CopyInResponse: counted only if the COPY fails before it starts. */
  #deferred = 0;

  /** True while a COPY FROM STDIN may be running: client messages go through {@link message} first. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * A COPY FROM STDIN forwarded, by a simple Query or an Execute; `unit` is the number of ReadyForQuery the
   * server owed before it.
   */
  start(extended: boolean, unit: number): void {
    this.#active = true;
    this.#extended = extended;
    this.#unit = unit;
    this.#started = false;
    this.#deferred = 0;
  }

  /**
   * A client message while a COPY FROM STDIN may be running: the bytes to forward, or null to handle it as usual
   * (the COPY is over). Only COPY data, and in the extended protocol Sync and Flush, may come; anything else
   * could not be paired with the server's answers, and ends the session.
   */
  message(f: Frame): Buffer[] | null {
    switch (f.tag) {
      case FrontendTag.CopyData:
        return [f.raw];
      case FrontendTag.CopyDone:
      case FrontendTag.CopyFail:
        if (!this.#started) throw copyProtocolError('COPY data came before the server asked for it');
        this.#active = false;
        return [f.raw];
      case FrontendTag.Sync:
        if (!this.#extended) throw copyProtocolError('Sync during COPY FROM STDIN sent with a simple Query');
        if (!this.#started) this.#deferred++;
        return [f.raw]; // the server ignores it in copy-in mode
      case FrontendTag.Flush:
        if (!this.#extended) throw copyProtocolError('Flush during COPY FROM STDIN sent with a simple Query');
        return [f.raw];
      case FrontendTag.Terminate:
        return null;
      default:
        throw copyProtocolError('only COPY data may follow COPY FROM STDIN until CopyDone or CopyFail');
    }
  }

  /**
   * The server answered a COPY FROM STDIN that was starting (CopyInResponse), or failed it (ErrorResponse).
   * Returns how many Syncs the client sent meanwhile must now be counted as Syncs after all.
   */
  answer(tag: number): number {
    if (!this.#active) return 0;
    if (tag === BackendTag.CopyInResponse) {
      this.#started = true;
      this.#deferred = 0; // ignored by the server
      return 0;
    }
    // Failed mid-copy: the client still ends with CopyDone or CopyFail (discarded), then its Sync.
    if (this.#started) return 0;
    // The COPY failed before it started: Syncs sent meanwhile are read as Syncs after all.
    this.#active = false;
    return this.#deferred;
  }

  /** The server sends a ReadyForQuery, having sent `seen` before it: a simple Query's COPY is then over. */
  ready(seen: number): void {
    if (this.#active && !this.#extended && seen >= this.#unit) this.#active = false;
  }
}

function copyProtocolError(what: string): HoopError {
  return new HoopError('usage', `hoop: ${what}; the session is closed`, { details: { sqlstate: '08P01' } });
}
