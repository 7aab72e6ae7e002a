/**
 * Prepared statements and portals by name, as the server has them. A Parse, Bind or Close takes effect when the
 * server confirms it (ParseComplete, BindComplete, CloseComplete), never when the client sends it: a Parse of a
 * name in use fails (42P05) and the server keeps the old statement, so trusting the client's message would pair
 * the old statement's results (or an approval spent on it) with the new text.
 *
 * Until the server answers, later messages of the same pipeline see the change: the server runs them in order,
 * and after an error it skips everything up to the pipeline's Sync, so nothing that saw an unconfirmed change
 * runs unless the change took effect. An error drops the pipeline's unconfirmed changes.
 *
 * Pipelines are numbered by the ReadyForQuery that ends them (the caller counts): changes are made with the
 * number of the pipeline being sent, and an error is reported with the number of the one being answered.
 *
 * SQL shares the statements' namespace: `DEALLOCATE name`, `DEALLOCATE ALL` and `DISCARD ALL` remove them, and a
 * `PREPARE` may then reuse a name for a statement the gateway never saw parsed. A release takes effect when its
 * command completes; until then, and after it, the name is unknown, so a later Bind is never recorded with the
 * text of a statement the server no longer has.
 * Pure: no I/O.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */

/** 'S' a prepared statement, 'P' a portal: the protocol's own letters (Describe, Close). */
export type Namespace = 'S' | 'P';

interface Change<S, P> {
  answer: 'parse' | 'bind' | 'close' | 'release';
  ns: Namespace;
  /** The name changed; null for a release of every prepared statement. */
  name: string | null;
  /** The new value; undefined for a Close. */
  value: S | P | undefined;
  pipeline: number;
}

export class ExtendedNames<S, P> {
  readonly #statements = new Map<string, S>();
  readonly #portals = new Map<string, P>();
  /** Changes sent and not yet answered, oldest first: the order the server answers them in. */
  #pending: Change<S, P>[] = [];

  statement(name: string): S | undefined {
    return this.#lookup('S', name) as S | undefined;
  }

  portal(name: string): P | undefined {
    return this.#lookup('P', name) as P | undefined;
  }

  parse(name: string, value: S, pipeline: number): void {
    this.#pending.push({ answer: 'parse', ns: 'S', name, value, pipeline });
  }

  bind(name: string, value: P, pipeline: number): void {
    this.#pending.push({ answer: 'bind', ns: 'P', name, value, pipeline });
  }

  close(ns: Namespace, name: string, pipeline: number): void {
    this.#pending.push({ answer: 'close', ns, name, value: undefined, pipeline });
  }

  /** A SQL statement sent that removes prepared statements: `name`, or every one (null). See {@link released}. */
  release(name: string | null, pipeline: number): void {
    this.#pending.push({ answer: 'release', ns: 'S', name, value: undefined, pipeline });
  }

  /**
   * The server confirmed the oldest change (ParseComplete, BindComplete or CloseComplete). An answer that does
   * not match it means the gateway lost track of the conversation: it throws, and the session ends.
   */
  confirmed(answer: Exclude<Change<S, P>['answer'], 'release'>): void {
    // A release the server got past without a completion the session recognised: what it did is not known, so
    // the names keep what they had (lookups saw them as unknown meanwhile).
    while (this.#pending[0]?.answer === 'release') this.#pending.shift();
    const c = this.#pending.shift();
    if (!c || c.answer !== answer) throw new Error(`server answered ${answer}, expected ${c ? c.answer : 'nothing'}`);
    const map = (c.ns === 'S' ? this.#statements : this.#portals) as Map<string, S | P>;
    if (c.value === undefined) map.delete(c.name!);
    else map.set(c.name!, c.value);
  }

  /**
   * A DEALLOCATE or DISCARD ALL completed: the oldest change, a release, took effect. Portals stay: a portal keeps
   * its statement's plan after the statement is gone.
   */
  released(): void {
    const c = this.#pending[0];
    if (c?.answer !== 'release') return;
    this.#pending.shift();
    if (c.name === null) this.#statements.clear();
    else this.#statements.delete(c.name);
  }

  /** An error answered pipeline `pipeline`: its unconfirmed changes failed or were skipped. */
  failed(pipeline: number): void {
    if (this.#pending.some((c) => c.pipeline === pipeline)) this.#pending = this.#pending.filter((c) => c.pipeline !== pipeline);
  }

  /**
   * The server reported no open transaction: every portal is gone (the unnamed one at each Sync, named ones at
   * the end of their transaction). Portals bound in pipelines not yet answered are kept.
   */
  transactionEnded(): void {
    this.#portals.clear();
  }

  #lookup(ns: Namespace, name: string): S | P | undefined {
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const c = this.#pending[i]!;
      if (c.ns === ns && (c.name === name || (c.answer === 'release' && c.name === null))) return c.value;
    }
    return (ns === 'S' ? this.#statements : this.#portals).get(name);
  }
}
