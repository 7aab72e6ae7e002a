/**
 * Grants: who may open tunnels to which connection, until when.
 *
 * A grant is issued after the caller's identity has been verified and the connection's access rule allows its
 * groups. The token is signed (Ed25519); the row in `grants` decides liveness, so revocation and renewal take
 * effect for live tunnels without re-issuing anything to them.
 */
import { randomUUID } from 'node:crypto';
import { HoopError } from '../../shared/errors.js';
import { formatSpan, parseDuration } from '../../shared/duration.js';

/**
 * The shortest grant: its token's expiry is in whole seconds, so anything shorter is expired when issued. (Tests
 * rely on grants of a few seconds to see expiry happen.)
 */
const MIN_GRANT_MS = 1000;
import type { Grant, Review } from '../../shared/api/schemas.js';
import type { Database, Queryable } from '../store/db.js';
import type { Identity, RoleConfig } from '../identity/identity.js';
import { hasRole } from '../identity/identity.js';
import type { SigningKey } from './signing-key.js';
import { signGrant, verifyGrant, type GrantClaims } from './grant-token.js';
import { CONNECTION_NAME } from '../config/schema.js';

export interface GrantableConnection {
  name: string;
  type: 'postgres';
  accessGroups: readonly string[];
  maxDurationMs: number;
  /** Just-in-time access: these groups' grants need an approver first. */
  requireApproval?: { groups: readonly string[]; approvers: readonly string[]; maxDurationMs: number; timeoutMs: number };
}

/** What the grant service needs from reviews (just-in-time access). */
export interface AccessReviews {
  createAccessReview(i: { requester: Identity; connection: string; durationMs: number; reason: string | null; approverGroups: readonly string[]; timeoutMs: number }): Promise<Review>;
  /** The caller's open access review for the connection: pending, or approved and not used yet. */
  openAccessReview(subject: string, connection: string): Promise<{ id: string; status: 'pending' | 'approved' } | undefined>;
  /** Marks an approved access review used; returns the approved window. */
  consumeAccess(q: Queryable, id: string, subject: string, connection: string): Promise<{ durationMs: number; decidedAt: Date } | undefined>;
  get(viewer: Identity, id: string): Promise<Review>;
}

/** Where grant decisions are recorded (issued, denied, renewed, revoked). */
export interface GrantAudit {
  grantDecision(event: {
    outcome: 'issued' | 'denied' | 'renewed' | 'revoked';
    subject: string;
    connection: string;
    reason: string;
    grantId?: string;
    details?: Record<string, unknown>;
  }): Promise<void>;
}

export interface GrantServiceOptions {
  db: Database;
  key: SigningKey;
  issuer: string;
  defaultTtlMs: number;
  maxTtlMs: number;
  roles: RoleConfig;
  connection: (name: string) => GrantableConnection | undefined;
  audit: GrantAudit;
  reviews?: AccessReviews;
  now?: () => Date;
}

interface GrantRow {
  id: string;
  connection: string;
  subject: string;
  groups: string[];
  identity_kind: string;
  reason: string | null;
  issued_at: Date;
  expires_at: Date;
  /** The length first granted (bigint, so text from pg): what each renewal extends by. */
  length_ms: string | number;
  revoked_at: Date | null;
  revoked_by: string | null;
  not_after?: Date | null;
  review_id?: string | null;
}

/** A grant that may carry traffic right now. */
export interface LiveGrant extends GrantClaims {
  expiresAt: Date;
}

/**
 * Checked before anything is recorded: a denial record repeats the connection name, and its reason may repeat
 * the duration or review id, all chosen by the caller. No connection has a name outside the configuration's rule,
 * so such a request can only be refused; the refusal does not repeat what was sent (it may be long).
 */
function checkRequestShape(req: { connection: string; duration?: string | undefined; review_id?: string | undefined }): void {
  if (!CONNECTION_NAME.test(req.connection)) {
    throw new HoopError('usage', 'invalid connection name: expected 1-63 of a-z 0-9 _ -, starting with a letter or digit', {
      hint: 'list the connections with `hoop connections`',
    });
  }
  if (req.duration !== undefined && req.duration.length > 32) throw new HoopError('usage', 'invalid duration: longer than 32 characters', { hint: 'use a number with a unit, such as 15m' });
  if (req.review_id !== undefined && !/^[0-9a-f-]{36}$/i.test(req.review_id)) throw new HoopError('usage', 'invalid review id: expected a UUID');
}

export class GrantService {
  readonly #o: GrantServiceOptions;
  readonly #now: () => Date;

  constructor(options: GrantServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Issues a grant, or — for requesters whose access needs approval — answers with their access review.
   * Throws access_denied / not_found / usage, each recorded as a denial.
   */
  async issue(
    identity: Identity,
    req: { connection: string; duration?: string | undefined; reason?: string | undefined; review_id?: string | undefined },
  ): Promise<{ grant: Grant } | { review: Review }> {
    checkRequestShape(req);
    const conn = this.#o.connection(req.connection);
    try {
      if (!conn) throw new HoopError('not_found', `no connection named "${req.connection}"`, { hint: 'list them with `hoop connections`' });
      this.#checkAccess(identity, conn);
      const jit = conn.requireApproval && identity.groups.some((g) => conn.requireApproval!.groups.includes(g)) ? conn.requireApproval : undefined;
      if (jit) return await this.#issueJustInTime(identity, conn, jit, req);
      const ttl = this.#ttl(conn, req.duration);
      const now = this.#now();
      const row = await this.#insert(this.#o.db, identity, conn, req.reason ?? null, now, new Date(now.getTime() + ttl), null, null);
      return { grant: await this.#issued(identity, row) };
    } catch (e) {
      if (e instanceof HoopError && ['access_denied', 'not_found', 'usage'].includes(e.code)) {
        await this.#o.audit.grantDecision({
          outcome: 'denied', subject: identity.subject, connection: req.connection, reason: e.message,
          details: { groups: identity.groups, kind: identity.kind },
        });
      }
      throw e;
    }
  }

  /**
   * Just-in-time access: an approved review becomes a grant limited to the approved window (from the decision,
   * for the approved duration); otherwise the requester's open review is answered, or a new one is created.
   */
  async #issueJustInTime(
    identity: Identity, conn: GrantableConnection, jit: NonNullable<GrantableConnection['requireApproval']>,
    req: { duration?: string | undefined; reason?: string | undefined; review_id?: string | undefined },
  ): Promise<{ grant: Grant } | { review: Review }> {
    const reviews = this.#o.reviews;
    if (!reviews) throw new HoopError('internal', 'reviews are not configured');
    const open = req.review_id ? { id: req.review_id, status: 'approved' as const } : await reviews.openAccessReview(identity.subject, conn.name);
    if (open?.status === 'approved') {
      const row = await this.#o.db.transaction(async (q) => {
        const window = await reviews.consumeAccess(q, open.id, identity.subject, conn.name);
        if (!window) throw new HoopError('access_denied', `review ${open.id} is not an approved access review of yours for "${conn.name}"`);
        const end = new Date(window.decidedAt.getTime() + window.durationMs);
        if (end.getTime() <= this.#now().getTime()) throw new HoopError('access_denied', `the access approved in review ${open.id} ended at ${end.toISOString()}`);
        return this.#insert(q, identity, conn, req.reason ?? null, this.#now(), end, end, open.id);
      });
      // Recorded after the commit: the record refers to the grant row.
      return { grant: await this.#issued(identity, row) };
    }
    if (open?.status === 'pending') return { review: await reviews.get(identity, open.id) };
    const durationMs = req.duration === undefined ? Math.min(this.#o.defaultTtlMs, jit.maxDurationMs) : parseDuration(req.duration, 'duration');
    if (durationMs > jit.maxDurationMs) {
      throw new HoopError('usage', `access to "${conn.name}" may be approved for at most ${formatSpan(jit.maxDurationMs)}; ${req.duration} was asked`, {
        details: { max_duration_seconds: Math.floor(jit.maxDurationMs / 1000) },
      });
    }
    const review = await reviews.createAccessReview({
      requester: identity, connection: conn.name, durationMs, reason: req.reason ?? null, approverGroups: jit.approvers, timeoutMs: jit.timeoutMs,
    });
    return { review };
  }

  async #insert(
    q: Queryable, identity: Identity, conn: GrantableConnection, reason: string | null, issuedAt: Date, expiresAt: Date,
    notAfter: Date | null, reviewId: string | null,
  ): Promise<GrantRow> {
    const row: GrantRow = {
      id: randomUUID(), connection: conn.name, subject: identity.subject, groups: identity.groups, identity_kind: identity.kind,
      reason, issued_at: issuedAt, expires_at: expiresAt, length_ms: expiresAt.getTime() - issuedAt.getTime(),
      revoked_at: null, revoked_by: null, not_after: notAfter, review_id: reviewId,
    };
    await q.query(
      `INSERT INTO grants (id, connection, subject, groups, identity_kind, reason, issued_at, expires_at, length_ms, not_after, review_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [row.id, row.connection, row.subject, row.groups, row.identity_kind, row.reason, row.issued_at, row.expires_at, row.length_ms, notAfter, reviewId],
    );
    return row;
  }

  /** Records an issued grant and returns it with its signed token. */
  async #issued(identity: Identity, row: GrantRow): Promise<Grant> {
    await this.#o.audit.grantDecision({
      outcome: 'issued', subject: identity.subject, connection: row.connection, reason: row.reason ?? '', grantId: row.id,
      details: {
        expires_at: row.expires_at.toISOString(), groups: identity.groups, kind: identity.kind, ...identity.claims,
        ...(row.review_id ? { review_id: row.review_id } : {}),
      },
    });
    return this.#toApi(row, await this.#token(row));
  }

  /**
   * Extends a live grant by its original length, re-checking that the caller still holds access. Only the
   * grant's own subject may renew it. Live tunnels keep running: they follow the row, not the token.
   */
  async renew(identity: Identity, grantId: string): Promise<Grant> {
    const row = await this.#get(grantId);
    if (!row || row.subject !== identity.subject) throw new HoopError('not_found', `no grant ${grantId} of yours`);
    this.#checkLive(row);
    const conn = this.#o.connection(row.connection);
    if (!conn) throw new HoopError('access_denied', `connection "${row.connection}" no longer exists`);
    this.#checkAccess(identity, conn);
    // The stored original length: `expires_at - issued_at` would grow with every renewal (issued_at never moves).
    const length = Math.min(Number(row.length_ms), this.#cap(conn));
    let expires = new Date(this.#now().getTime() + length);
    // A just-in-time grant never outlives the window its approver agreed to.
    if (row.not_after && expires > row.not_after) expires = row.not_after;
    const updated = await this.#o.db.query<GrantRow>(
      `UPDATE grants SET expires_at = $2, renewed_count = renewed_count + 1
        WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
      [row.id, expires],
    );
    const next = updated.rows[0];
    if (!next) throw new HoopError('grant_revoked', `grant ${grantId} was revoked`);
    await this.#o.audit.grantDecision({
      outcome: 'renewed', subject: identity.subject, connection: row.connection, reason: '', grantId: row.id,
      details: { expires_at: expires.toISOString() },
    });
    return this.#toApi(next, await this.#token(next));
  }

  /**
   * Revokes a grant: its own subject or an admin may. Live tunnels close within seconds (see TunnelRegistry).
   * A grant revoked already stays as it was (first revoker, first time), and nothing more is recorded.
   */
  async revoke(identity: Identity, grantId: string): Promise<{ grant: Grant; alreadyRevoked: boolean }> {
    const row = await this.#get(grantId);
    const admin = hasRole(identity, this.#o.roles, 'admin');
    if (!row || (row.subject !== identity.subject && !admin)) throw new HoopError('not_found', `no grant ${grantId}`);
    const updated = await this.#o.db.query<GrantRow>(
      `UPDATE grants SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
      [row.id, this.#now(), identity.subject],
    );
    const next = updated.rows[0];
    if (!next) return { grant: this.#toApi((await this.#get(grantId)) ?? row), alreadyRevoked: true };
    // Every instance re-checks its live tunnels now, not at its next tick.
    await this.#o.db.query(`SELECT pg_notify('hoop_grants', $1)`, [row.id]).catch(() => undefined);
    await this.#o.audit.grantDecision({ outcome: 'revoked', subject: identity.subject, connection: row.connection, reason: '', grantId: row.id });
    return { grant: this.#toApi(next), alreadyRevoked: false };
  }

  /** One grant, as its own subject or an admin sees it (anyone else: not_found, as for revoke). */
  async get(identity: Identity, grantId: string): Promise<Grant> {
    const row = await this.#get(grantId);
    if (!row || (row.subject !== identity.subject && !hasRole(identity, this.#o.roles, 'admin'))) throw new HoopError('not_found', `no grant ${grantId}`);
    return this.#toApi(row);
  }

  async list(identity: Identity, opts: { all?: boolean; active?: boolean }): Promise<Grant[]> {
    const everyone = opts.all === true;
    if (everyone && !hasRole(identity, this.#o.roles, 'admin')) {
      // Said, rather than quietly answered with the caller's own grants as if they were everyone's.
      throw new HoopError('access_denied', `listing everyone's grants needs the admin role, which ${identity.subject} does not have`, {
        hint: 'leave out --all to list your own grants',
      });
    }
    const where: string[] = [];
    const params: unknown[] = [];
    if (!everyone) {
      params.push(identity.subject);
      where.push(`subject = $${params.length}`);
    }
    if (opts.active) {
      params.push(this.#now());
      where.push(`revoked_at IS NULL AND expires_at > $${params.length}`);
    }
    const res = await this.#o.db.query<GrantRow>(
      `SELECT * FROM grants ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY issued_at DESC LIMIT 500`,
      params,
    );
    return res.rows.map((r) => this.#toApi(r));
  }

  /**
   * Checks a grant token presented on a tunnel: signature, issuer, audience, expiry, that it is for `connection`
   * when given, and that the row is neither revoked nor expired (renewal moves expiry later than the token's).
   */
  async verifyForTunnel(token: string): Promise<LiveGrant> {
    const now = this.#now();
    const claims = await verifyGrant(token, this.#o.key, this.#o.issuer, now);
    const row = await this.#get(claims.grantId);
    if (!row) throw new HoopError('grant_invalid', 'the grant is unknown to this gateway');
    if (row.subject !== claims.subject || row.connection !== claims.connection) {
      throw new HoopError('grant_invalid', 'the grant does not match its record');
    }
    this.#checkLive(row);
    return { ...claims, expiresAt: row.expires_at };
  }

  /** The current state of grants that carry live tunnels, for the revocation watcher. */
  async liveness(ids: readonly string[]): Promise<Map<string, { expiresAt: Date; revoked: boolean }>> {
    const out = new Map<string, { expiresAt: Date; revoked: boolean }>();
    if (ids.length === 0) return out;
    const res = await this.#o.db.query<{ id: string; expires_at: Date; revoked_at: Date | null }>(
      'SELECT id, expires_at, revoked_at FROM grants WHERE id = ANY($1::uuid[])',
      [ids],
    );
    for (const r of res.rows) out.set(r.id, { expiresAt: r.expires_at, revoked: r.revoked_at !== null });
    return out;
  }

  /** Whether `identity` may be granted `conn` (perhaps after an approval): what `hoop connections` shows. */
  allows(identity: Identity, conn: GrantableConnection): boolean {
    return this.#accessProblem(identity, conn) === null;
  }

  #checkAccess(identity: Identity, conn: GrantableConnection): void {
    const problem = this.#accessProblem(identity, conn);
    if (problem) throw problem;
  }

  #accessProblem(identity: Identity, conn: GrantableConnection): HoopError | null {
    // Separation of duties: who reads the evidence does not touch the data it is about.
    if (hasRole(identity, this.#o.roles, 'auditor')) {
      return new HoopError('access_denied', `${identity.subject} is an auditor: auditors read sessions and the audit log, and may not connect`, {
        hint: 'connect with an account that is not in an auditor group',
        details: { connection: conn.name },
      });
    }
    if (!identity.groups.some((g) => conn.accessGroups.includes(g))) {
      return new HoopError('access_denied', `${identity.subject} may not access "${conn.name}"`, {
        hint: conn.accessGroups.length
          ? `access needs membership of one of: ${conn.accessGroups.join(', ')}`
          : 'no group has access to this connection',
        details: { connection: conn.name, groups: identity.groups },
      });
    }
    return null;
  }

  #checkLive(row: GrantRow): void {
    if (row.revoked_at) {
      throw new HoopError('grant_revoked', `the grant for ${row.connection} was revoked${row.revoked_by ? ' by ' + row.revoked_by : ''}`, {
        hint: `run \`hoop connect ${row.connection}\` to ask for a new grant`,
      });
    }
    if (row.expires_at.getTime() <= this.#now().getTime()) {
      throw new HoopError('grant_expired', `the grant for ${row.connection} has expired`, {
        hint: `run \`hoop connect ${row.connection}\` to ask for a new grant`,
      });
    }
  }

  #cap(conn: GrantableConnection): number {
    return Math.min(conn.maxDurationMs, this.#o.maxTtlMs);
  }

  #ttl(conn: GrantableConnection, duration: string | undefined): number {
    const cap = this.#cap(conn);
    if (duration === undefined) return Math.min(this.#o.defaultTtlMs, cap);
    const ms = parseDuration(duration, 'grant duration');
    if (ms > cap) {
      throw new HoopError('usage', `a grant for "${conn.name}" may last at most ${formatSpan(cap)}; ${duration} was asked`, {
        hint: `ask for --duration ${formatSpan(cap).replace(/ /g, '')} or less`,
        details: { max_duration_seconds: Math.floor(cap / 1000) }, // for a client whose own default is too long
      });
    }
    if (ms < MIN_GRANT_MS) {
      throw new HoopError('usage', `a grant must last at least ${formatSpan(MIN_GRANT_MS)}; ${duration} was asked`, {
        hint: 'ask for --duration 15m, say',
      });
    }
    return ms;
  }

  async #get(id: string): Promise<GrantRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    return (await this.#o.db.query<GrantRow>('SELECT * FROM grants WHERE id = $1', [id])).rows[0];
  }

  #token(row: GrantRow): Promise<string> {
    return signGrant(
      { grantId: row.id, subject: row.subject, groups: row.groups, connection: row.connection, issuedAt: this.#now(), expiresAt: row.expires_at },
      this.#o.key,
      this.#o.issuer,
    );
  }

  #toApi(row: GrantRow, token?: string): Grant {
    const conn = this.#o.connection(row.connection);
    return {
      id: row.id,
      connection: row.connection,
      type: conn?.type ?? 'postgres',
      subject: row.subject,
      groups: row.groups,
      issued_at: row.issued_at.toISOString(),
      expires_at: row.expires_at.toISOString(),
      revoked_at: row.revoked_at ? row.revoked_at.toISOString() : null,
      reason: row.reason,
      ...(token ? { token } : {}),
    };
  }
}
