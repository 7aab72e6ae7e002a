/**
 * Reviews: a statement held for approval, or a just-in-time access request. The rules live here and nowhere
 * else: only members of the approver groups decide; never the requester; `min_approvals` distinct approvers
 * approve; one rejection rejects; a pending review expires at its deadline. An approved statement is used
 * once, bound to the hash of exactly what was approved.
 */
import { createHash, randomUUID } from 'node:crypto';
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Review } from '../../shared/api/schemas.js';
import type { Database, Queryable } from '../store/db.js';
import { hasRole, type Identity, type RoleConfig } from '../identity/identity.js';
import type { ClusterNotifier } from '../store/notifier.js';

export type ReviewEventKind = 'created' | 'decided';

export interface ReviewEvents {
  /** Called after a review is created or decided (webhooks, audit). Must not throw. */
  reviewEvent(kind: ReviewEventKind, review: Review): void;
}

export interface ReviewServiceOptions {
  db: Database;
  notifier: ClusterNotifier;
  roles: RoleConfig;
  logger: Logger;
  events?: ReviewEvents;
  now?: () => Date;
}

interface ReviewRow {
  id: string; kind: 'statement' | 'access'; connection: string; requester: string; requester_groups: string[];
  reason: string | null; statement: string | null; parameters: (string | null)[] | null; statement_hash: string | null;
  session_id: string | null; rule: string | null; duration_ms: string | null; approver_groups: string[]; min_approvals: number;
  status: Review['status']; created_at: Date; expires_at: Date; decided_at: Date | null; used_at: Date | null; grant_id: string | null;
}

interface DecisionRow { approver: string; decision: 'approve' | 'reject'; comment: string | null; at: Date }

export interface StatementReviewInput {
  requester: Identity;
  connection: string;
  sessionId: string;
  statement: string;
  parameters: (string | null)[] | null;
  rule: string;
  approverGroups: readonly string[];
  minApprovals: number;
  timeoutMs: number;
  reason?: string | null;
}

export interface AccessReviewInput {
  requester: Identity;
  connection: string;
  durationMs: number;
  reason: string | null;
  approverGroups: readonly string[];
  timeoutMs: number;
}

/** What an approval binds to: the statement text and its parameters, exactly. */
export function statementHash(statement: string, parameters: readonly (string | null)[] | null): string {
  return createHash('sha256').update(JSON.stringify([statement, parameters ?? []])).digest('hex');
}

export class ReviewService {
  readonly #o: ReviewServiceOptions;
  readonly #now: () => Date;

  constructor(o: ReviewServiceOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => new Date());
  }

  async createStatementReview(i: StatementReviewInput): Promise<Review> {
    const now = this.#now();
    const id = randomUUID();
    await this.#o.db.query(
      `INSERT INTO reviews (id, kind, connection, requester, requester_groups, reason, statement, parameters, statement_hash,
                            session_id, rule, approver_groups, min_approvals, status, created_at, expires_at)
       VALUES ($1, 'statement', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14)`,
      [id, i.connection, i.requester.subject, i.requester.groups, i.reason ?? null, i.statement,
        i.parameters === null ? null : JSON.stringify(i.parameters), statementHash(i.statement, i.parameters), i.sessionId, i.rule,
        i.approverGroups, i.minApprovals, now, new Date(now.getTime() + i.timeoutMs)],
    );
    return this.#created(id);
  }

  async createAccessReview(i: AccessReviewInput): Promise<Review> {
    const now = this.#now();
    const id = randomUUID();
    await this.#o.db.query(
      `INSERT INTO reviews (id, kind, connection, requester, requester_groups, reason, duration_ms, rule, approver_groups,
                            min_approvals, status, created_at, expires_at)
       VALUES ($1, 'access', $2, $3, $4, $5, $6, 'access.require_approval', $7, 1, 'pending', $8, $9)`,
      [id, i.connection, i.requester.subject, i.requester.groups, i.reason, i.durationMs, i.approverGroups, now, new Date(now.getTime() + i.timeoutMs)],
    );
    return this.#created(id);
  }

  /** Approves or rejects. Throws access_denied (not an approver, own review) or conflict (already decided). */
  async decide(approver: Identity, id: string, decision: 'approve' | 'reject', comment: string | null): Promise<Review> {
    const review = await this.#o.db.transaction(async (q) => {
      const row = await this.#lockedRow(q, id);
      this.#checkMayDecide(approver, row);
      const prior = await q.query<DecisionRow>('SELECT * FROM review_decisions WHERE review_id = $1 AND approver = $2', [id, approver.subject]);
      if (prior.rows.length) throw new HoopError('conflict', `you already decided review ${id}`);
      const now = this.#now();
      await q.query('INSERT INTO review_decisions (review_id, approver, decision, comment, at) VALUES ($1, $2, $3, $4, $5)', [id, approver.subject, decision, comment, now]);
      let status: Review['status'] = 'pending';
      if (decision === 'reject') status = 'rejected';
      else {
        const n = await q.query<{ n: string }>(`SELECT count(*) AS n FROM review_decisions WHERE review_id = $1 AND decision = 'approve'`, [id]);
        if (Number(n.rows[0]!.n) >= row.min_approvals) status = 'approved';
      }
      if (status !== 'pending') {
        await q.query('UPDATE reviews SET status = $2, decided_at = $3 WHERE id = $1', [id, status, now]);
        await this.#o.notifier.notify(q, id);
      }
      return this.#toApi(q, { ...row, status, decided_at: status === 'pending' ? null : now }, approver);
    });
    if (review.status !== 'pending') {
      this.#o.notifier.emitLocal(id);
      this.#o.events?.reviewEvent('decided', review);
    }
    return review;
  }

  async get(viewer: Identity, id: string): Promise<Review> {
    const row = await this.#row(this.#o.db, id);
    if (!row || !this.#mayView(viewer, row)) throw new HoopError('not_found', `no review ${id}`);
    return this.#toApi(this.#o.db, await this.#expireIfDue(row), viewer);
  }

  /** Newest first; `limit` is a whole number from 1 to 500 (default 100), else `usage`. */
  async list(viewer: Identity, opts: { pending?: boolean; limit?: number }): Promise<Review[]> {
    // Checked here, not left to SQL: NaN or a negative LIMIT fails in the database as an internal error.
    if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1 && opts.limit <= 500)) {
      throw new HoopError('usage', `limit ${String(opts.limit)} is not a whole number from 1 to 500`);
    }
    await this.#o.db.query(`UPDATE reviews SET status = 'expired' WHERE status = 'pending' AND expires_at <= $1`, [this.#now()]);
    const res = await this.#o.db.query<ReviewRow>(
      `SELECT * FROM reviews ${opts.pending ? `WHERE status = 'pending'` : ''} ORDER BY created_at DESC LIMIT $1`,
      [opts.limit ?? 100],
    );
    const visible = res.rows.filter((r) => this.#mayView(viewer, r));
    return Promise.all(visible.map((r) => this.#toApi(this.#o.db, r, viewer)));
  }

  /** Waits until the review is decided or expires (or `timeoutMs` passes): returns its status then. */
  async waitForDecision(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Review['status']> {
    const deadline = this.#now().getTime() + timeoutMs;
    return new Promise<Review['status']>((resolve) => {
      let done = false;
      const finish = (s: Review['status']): void => {
        if (done) return;
        done = true;
        off();
        clearInterval(poll);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(s);
      };
      const check = async (): Promise<void> => {
        const row = await this.#row(this.#o.db, id).catch(() => undefined);
        if (!row) return;
        const current = await this.#expireIfDue(row);
        if (current.status !== 'pending') finish(current.status);
        else if (this.#now().getTime() >= deadline) finish('pending');
      };
      const off = this.#o.notifier.onDecided((rid) => {
        if (rid === id) void check();
      });
      // Backstop for a lost notification: the decision still arrives within a second.
      const poll = setInterval(() => void check(), 1000);
      const timer = setTimeout(() => void check().then(() => finish('pending')), Math.max(0, timeoutMs));
      const onAbort = (): void => finish('pending');
      signal?.addEventListener('abort', onAbort, { once: true });
      void check();
    });
  }

  /**
   * Marks an approved statement review used, once, if it is the caller's, for this connection, and the statement
   * (with its parameters) hashes to what was approved. Returns false otherwise.
   */
  async consumeStatement(id: string, subject: string, connection: string, hash: string): Promise<boolean> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
    const res = await this.#o.db.query(
      `UPDATE reviews SET status = 'used', used_at = $5
        WHERE id = $1 AND kind = 'statement' AND status = 'approved' AND requester = $2 AND connection = $3 AND statement_hash = $4`,
      [id, subject, connection, hash, this.#now()],
    );
    return res.rowCount === 1;
  }

  /** The subject's newest open access review for the connection: pending (not expired), or approved and unused. */
  async openAccessReview(subject: string, connection: string): Promise<{ id: string; status: 'pending' | 'approved' } | undefined> {
    const res = await this.#o.db.query<{ id: string; status: 'pending' | 'approved' }>(
      `SELECT id, status FROM reviews
        WHERE kind = 'access' AND requester = $1 AND connection = $2
          AND ((status = 'pending' AND expires_at > $3) OR (status = 'approved' AND decided_at + duration_ms * interval '1 millisecond' > $3))
        ORDER BY created_at DESC LIMIT 1`,
      [subject, connection, this.#now()],
    );
    return res.rows[0];
  }

  /** Marks an approved access review of `subject` for `connection` used; returns the approved window. */
  async consumeAccess(q: Queryable, id: string, subject: string, connection: string): Promise<{ durationMs: number; decidedAt: Date } | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const res = await q.query<{ duration_ms: string; decided_at: Date }>(
      `UPDATE reviews SET status = 'used', used_at = $4
        WHERE id = $1 AND kind = 'access' AND status = 'approved' AND requester = $2 AND connection = $3 RETURNING duration_ms, decided_at`,
      [id, subject, connection, this.#now()],
    );
    const row = res.rows[0];
    return row ? { durationMs: Number(row.duration_ms), decidedAt: row.decided_at } : undefined;
  }

  async #created(id: string): Promise<Review> {
    const row = (await this.#row(this.#o.db, id))!;
    const review = await this.#toApi(this.#o.db, row, undefined);
    this.#o.events?.reviewEvent('created', review);
    return review;
  }

  #checkMayDecide(approver: Identity, row: ReviewRow): void {
    if (row.requester === approver.subject) {
      throw new HoopError('access_denied', 'you cannot decide your own review', { hint: 'ask another approver' });
    }
    if (!approver.groups.some((g) => row.approver_groups.includes(g))) {
      throw new HoopError('access_denied', `only members of ${row.approver_groups.join(', ')} may decide this review`);
    }
    if (row.status === 'pending' && row.expires_at.getTime() <= this.#now().getTime()) {
      throw new HoopError('conflict', `review ${row.id} expired at ${row.expires_at.toISOString()}`);
    }
    if (row.status !== 'pending') throw new HoopError('conflict', `review ${row.id} is already ${row.status}`);
  }

  #mayView(viewer: Identity, row: ReviewRow): boolean {
    return row.requester === viewer.subject
      || viewer.groups.some((g) => row.approver_groups.includes(g))
      || hasRole(viewer, this.#o.roles, 'admin')
      || hasRole(viewer, this.#o.roles, 'auditor');
  }

  async #expireIfDue(row: ReviewRow): Promise<ReviewRow> {
    if (row.status !== 'pending' || row.expires_at.getTime() > this.#now().getTime()) return row;
    await this.#o.db.query(`UPDATE reviews SET status = 'expired' WHERE id = $1 AND status = 'pending'`, [row.id]);
    return { ...row, status: 'expired' };
  }

  async #row(q: Queryable, id: string): Promise<ReviewRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    return (await q.query<ReviewRow>('SELECT * FROM reviews WHERE id = $1', [id])).rows[0];
  }

  async #lockedRow(q: Queryable, id: string): Promise<ReviewRow> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? (await q.query<ReviewRow>('SELECT * FROM reviews WHERE id = $1 FOR UPDATE', [id])).rows[0] : undefined;
    if (!row) throw new HoopError('not_found', `no review ${id}`, { hint: 'list them with `hoop reviews --pending`' });
    return row;
  }

  async #toApi(q: Queryable, r: ReviewRow, viewer: Identity | undefined): Promise<Review> {
    const d = await q.query<DecisionRow>('SELECT approver, decision, comment, at FROM review_decisions WHERE review_id = $1 ORDER BY at', [r.id]);
    const canDecide = viewer !== undefined && r.status === 'pending' && r.requester !== viewer.subject
      && viewer.groups.some((g) => r.approver_groups.includes(g)) && !d.rows.some((x) => x.approver === viewer.subject);
    return {
      id: r.id,
      kind: r.kind,
      connection: r.connection,
      requester: r.requester,
      reason: r.reason,
      statement: r.statement,
      parameters: r.parameters,
      rule: r.rule,
      duration_seconds: r.duration_ms === null ? null : Math.round(Number(r.duration_ms) / 1000),
      approver_groups: r.approver_groups,
      min_approvals: r.min_approvals,
      status: r.status,
      created_at: r.created_at.toISOString(),
      expires_at: r.expires_at.toISOString(),
      decided_at: r.decided_at ? r.decided_at.toISOString() : null,
      decisions: d.rows.map((x) => ({ approver: x.approver, decision: x.decision, comment: x.comment, at: x.at.toISOString() })),
      can_decide: canDecide,
    };
  }
}
