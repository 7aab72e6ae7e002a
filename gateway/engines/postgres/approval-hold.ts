/**
 * Statements that need approval, as a session holds them. In the extended protocol the pipeline is held up to its
 * Sync, so the Bind parameters are known and part of what is approved; the session then waits for the review
 * and, once approved, replays the pipeline with the statement let through the gate once. The wait ends early
 * when the client goes away or sends a CancelRequest: the statement does not run.
 */
import { HoopError } from '../../../shared/errors.js';
import type { ApprovalRule } from '../../policy/guardrails.js';
import type { ApprovalOutcome, PolicyGate } from './policy-gate.js';
import { FrontendTag, decodeFrontend, type Frame } from './protocol/index.js';
import { paramsAsText } from './statement-tracker.js';

/** Extended protocol: a pipeline held, up to its Sync, while its statement waits for approval. */
export interface HeldPipeline {
  frames: Frame[]; name: string; sql: string; rule: ApprovalRule; params: (string | null)[] | null;
  /** Portals bound to the held statement, and portals executed, in the pipeline. */
  binds: string[]; executes: string[];
}

/** A session's approvals in progress. Made on first use: most connections have no approval rules. */
export class ApprovalHold {
  #held: HeldPipeline | undefined;
  /** Aborts the wait for a review (the client went away, or sent a CancelRequest). */
  #wait: AbortController | undefined;
  /** A statement the approver approved, let through the gate once while its held pipeline is replayed. */
  #preapproved: { sql: string; details: Record<string, unknown> } | undefined;

  /** True while a pipeline is held: every client message goes to {@link add} until its Sync. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** Holds the pipeline that starts with this Parse of a statement that needs approval. */
  hold(parse: Frame, name: string, sql: string, rule: ApprovalRule): void {
    this.#held = { frames: [parse], name, sql, rule, params: null, binds: [], executes: [] };
  }

  /** Adds a client message to the held pipeline. At its Sync, returns the whole pipeline, which is held no more. */
  add(f: Frame): HeldPipeline | null {
    const held = this.#held!;
    held.frames.push(f);
    if (f.tag === FrontendTag.Bind) {
      const m = decodeFrontend(f.tag, f.body) as { portal: string; statement: string; params: (Buffer | null)[]; paramFormats: number[] };
      if (m.statement === held.name) {
        held.binds.push(m.portal);
        held.params = paramsAsText(m.params, m.paramFormats);
      }
    }
    if (f.tag === FrontendTag.Execute) held.executes.push((decodeFrontend(f.tag, f.body) as { portal: string }).portal);
    if (f.tag !== FrontendTag.Sync) return null;
    this.#held = undefined;
    return held;
  }

  /** Waits for the review; the end of the session, the client's disconnect or its CancelRequest ends the wait. */
  async awaitApproval(
    gate: PolicyGate, rule: ApprovalRule, sql: string, params: (string | null)[] | null, notice: (text: string) => void, session: AbortSignal,
  ): Promise<ApprovalOutcome> {
    const wait = new AbortController();
    this.#wait = wait;
    const onAbort = (): void => wait.abort();
    session.addEventListener('abort', onAbort, { once: true });
    try {
      return await gate.approve(rule, sql, params, notice, wait.signal);
    } finally {
      this.#wait = undefined;
      session.removeEventListener('abort', onAbort);
    }
  }

  /** Stops waiting for a review, if the session waits for one: true when it did (the statement does not run). */
  interrupt(): boolean {
    if (!this.#wait) return false;
    this.#wait.abort();
    return true;
  }

  /** The held statement was approved: the next Parse of exactly this text passes the gate once, as approved. */
  preapprove(sql: string, details: Record<string, unknown>): void {
    this.#preapproved = { sql, details };
  }

  /** The approval's details if `sql` is the statement just approved (used up), or undefined. */
  takePreapproved(sql: string): Record<string, unknown> | undefined {
    if (this.#preapproved?.sql !== sql) return undefined;
    const { details } = this.#preapproved;
    this.#preapproved = undefined;
    return details;
  }
}

/**
 * What the approver sees must be exactly what runs: one Bind of the statement (its parameters) and one Execute
 * of that portal, in this pipeline. A Bind left for later could run it with other parameters. Returns the
 * refusal of a held pipeline that does anything else, or null.
 */
export function unapprovable(held: HeldPipeline): HoopError | null {
  const rule = held.rule.name;
  const why = held.executes.length > 1 ? `this pipeline executes ${held.executes.length} times`
    : held.binds.length !== 1 || held.executes.length !== 1 || held.executes[0] !== held.binds[0]
      ? 'send Parse, one Bind and one Execute of it before Sync, so the approval covers its parameters' : null;
  if (!why) return null;
  return new HoopError('blocked', `hoop: this statement needs approval (rule ${rule}), and an approval covers one execution with the parameters the approver saw; ${why} (rule ${rule})`);
}
