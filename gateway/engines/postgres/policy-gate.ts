/**
 * The policy gate every statement passes before it is forwarded: parse (PostgreSQL's own parser, cached by
 * text), guardrails and approval rules, and masking's refusals. Statements that need approval are held while a
 * review waits for its approvers; an approval binds to the hash of exactly the statement and parameters held.
 */
import { HoopError } from '../../../shared/errors.js';
import { formatSpan } from '../../../shared/duration.js';
import type { Review } from '../../../shared/api/schemas.js';
import type { Identity } from '../../identity/identity.js';
import { evaluate, type ApprovalRule } from '../../policy/guardrails.js';
import type { ParsedSql, StatementFacts } from '../../policy/sql/facts.js';
import type { ConnectionPolicy, StatementReviews } from '../../policy/connection-policy.js';
import { statementHash } from '../../reviews/review-service.js';
import { maskingRefusal } from './masking-plan.js';

export type Verdict =
  | { action: 'allow'; facts: StatementFacts[] }
  | { action: 'block'; facts: StatementFacts[]; error: HoopError; rule: string }
  | { action: 'approve'; facts: StatementFacts[]; rule: ApprovalRule };

export type ApprovalOutcome =
  | { approved: true; reviewId: string }
  | { approved: false; reviewId: string | null; error: HoopError; decision: 'pending' | 'rejected' | 'timeout' | 'denied' };

export interface GateSession {
  requester: Identity;
  connection: string;
  sessionId: string;
  /** From the client's startup options (`-c hoop.approval_wait_ms=…`): how long to wait for a decision. */
  approvalWaitMs: number | undefined;
  /** From the client's startup options (`-c hoop.review=…`): an approved review to run. */
  reviewId: string | undefined;
}

const CACHE_SIZE = 2000;

export class PolicyGate {
  readonly #policy: ConnectionPolicy;
  readonly #reviews: StatementReviews | undefined;
  readonly #session: GateSession;
  readonly #cache: Map<string, ParsedSql>;

  constructor(policy: ConnectionPolicy, reviews: StatementReviews | undefined, session: GateSession) {
    this.#policy = policy;
    this.#reviews = reviews;
    this.#session = session;
    this.#cache = policy.cache ?? new Map();
  }

  /** Parses and decides. Never rejects for bad SQL: that is a block. */
  async check(sql: string): Promise<Verdict> {
    const parsed = await this.#parse(sql);
    const facts = parsed.ok ? parsed.statements : [];
    const d = evaluate(parsed, this.#policy.guardrails, this.#policy.approvals);
    if (d.action === 'block') return { action: 'block', facts, rule: d.rule, error: blocked(d.message, d.rule) };
    const refusal = maskingRefusal(facts, this.#policy.masking);
    if (refusal) return { action: 'block', facts, rule: 'masking', error: blocked(`${refusal} (rule masking)`, 'masking') };
    // SQL EXECUTE runs a statement prepared earlier, perhaps through the protocol (a driver's) or inside a DO block:
    // its text is not here to check, so where masking or approvals apply it does not run. A driver's own
    // executions (Bind/Execute) are checked against the statement they prepared.
    if (facts.some((f) => f.kinds.includes('execute')) && (this.#policy.masking !== null || this.#policy.approvals.length > 0)) {
      return {
        action: 'block', facts, rule: 'execute',
        error: blocked('hoop: EXECUTE runs a prepared statement whose text hoop cannot check here, so on this connection (masking or approval rules) it was not run: run the statement itself (rule execute)', 'execute'),
      };
    }
    if (d.action === 'approve') {
      // A prepared statement could run again and again under one approval: PREPARE of such statements is refused.
      if (facts.some((f) => f.kind === 'prepare')) {
        return { action: 'block', facts, rule: d.rule.name, error: blocked(`hoop: this statement needs approval (rule ${d.rule.name}), and an approval covers one execution: run it directly instead of through PREPARE (rule ${d.rule.name})`, d.rule.name) };
      }
      return { action: 'approve', facts, rule: d.rule };
    }
    return { action: 'allow', facts };
  }

  /**
   * Gets the statement approved: an approved review named at startup (`hoop exec --review`) is used once if it
   * approves exactly this statement; otherwise a review is created, the client is told its id through `notice`,
   * and the decision is awaited (no wait when the client asked for none).
   */
  async approve(rule: ApprovalRule, statement: string, parameters: (string | null)[] | null, notice: (text: string) => void, signal: AbortSignal): Promise<ApprovalOutcome> {
    const reviews = this.#reviews;
    if (!reviews) return { approved: false, reviewId: null, decision: 'denied', error: new HoopError('internal', 'hoop: reviews are not available') };
    const s = this.#session;
    const hash = statementHash(statement, parameters);
    if (s.reviewId) {
      if (await reviews.consumeStatement(s.reviewId, s.requester.subject, s.connection, hash)) return { approved: true, reviewId: s.reviewId };
      return { approved: false, reviewId: s.reviewId, ...(await this.#whyNot(s.reviewId)) };
    }
    const review = await reviews.createStatementReview({
      requester: s.requester, connection: s.connection, sessionId: s.sessionId, statement, parameters,
      rule: rule.name, approverGroups: rule.approvers, minApprovals: rule.min_approvals, timeoutMs: rule.timeout_ms,
    });
    const who = rule.approvers.join(' or ');
    const waitMs = Math.min(rule.timeout_ms, s.approvalWaitMs ?? rule.timeout_ms);
    if (waitMs <= 0) {
      return {
        approved: false, reviewId: review.id, decision: 'pending',
        error: new HoopError('approval_pending', `hoop: the statement needs approval (rule ${rule.name}): review ${review.id} is waiting for ${who}`, {
          hint: `an approver runs \`hoop approve ${review.id}\`; then run it again with --review ${review.id}`,
          details: { review_id: review.id },
        }),
      };
    }
    notice(`hoop: this statement needs approval (rule ${rule.name}). Review ${review.id} is waiting for ${who}: `
      + `they run \`hoop approve ${review.id}\`. Waiting up to ${formatSpan(waitMs)}…`);
    const status = await reviews.waitForDecision(review.id, waitMs, signal);
    if (status === 'approved' && (await reviews.consumeStatement(review.id, s.requester.subject, s.connection, hash))) {
      return { approved: true, reviewId: review.id };
    }
    return { approved: false, reviewId: review.id, ...(await this.#whyNot(review.id, status)) };
  }

  async #whyNot(id: string, status?: Review['status']): Promise<{ error: HoopError; decision: 'pending' | 'rejected' | 'timeout' | 'denied' }> {
    let review: Review | undefined;
    try {
      review = await this.#reviews!.get(this.#session.requester, id);
    } catch {
      review = undefined;
    }
    const st = review?.status ?? status;
    if (st === 'rejected') {
      const by = review?.decisions.filter((d) => d.decision === 'reject').map((d) => `${d.approver}${d.comment ? `: "${d.comment}"` : ''}`).join(', ');
      return { decision: 'rejected', error: new HoopError('approval_rejected', `hoop: review ${id} rejected the statement${by ? ` (${by})` : ''}`) };
    }
    if (st === 'pending' || st === 'expired') {
      return {
        decision: 'timeout',
        error: new HoopError(st === 'pending' && this.#session.reviewId ? 'approval_pending' : 'approval_timeout',
          st === 'pending' && this.#session.reviewId ? `hoop: review ${id} is still waiting for a decision` : `hoop: review ${id} was not decided in time; the statement was not run`,
          { details: { review_id: id } }),
      };
    }
    return {
      decision: 'denied',
      error: new HoopError('access_denied', `hoop: review ${id} does not approve this statement (it was ${st ?? 'not found'}, or approved a different statement or parameters, or someone else's)`),
    };
  }

  async #parse(sql: string): Promise<ParsedSql> {
    const hit = this.#cache.get(sql);
    if (hit) return hit;
    const parsed = await this.#policy.parser.parse(sql);
    if (sql.length < 16_384) {
      if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(sql, parsed);
    }
    return parsed;
  }
}

function blocked(message: string, rule: string): HoopError {
  return new HoopError('blocked', message, { details: { rule } });
}
