/** The gateway's HTTP API (see shared/api/schemas.ts for the contract). */
import { createHash } from 'node:crypto';
import { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { GrantRequestSchema, ReviewDecisionRequestSchema, type ConnectionSummary, type WellKnown } from '../../shared/api/schemas.js';
import type { ReviewService } from '../reviews/review-service.js';
import type { PostgresRecorder } from '../recording/recorder.js';
import type { SigningKey } from '../grants/signing-key.js';
import { mountAuditApi } from './audit-api.js';
import type { Database } from '../store/db.js';
import type { AccessTokenVerifier } from '../identity/verify-access-token.js';
import { hasRole, rolesOf, type Identity, type RoleConfig } from '../identity/identity.js';
import type { GrantService } from '../grants/grant-service.js';
import type { WorkloadVerifier } from '../identity/workload.js';
import { parseTokenExchangeRequest, tokenExchangeResponse } from '../identity/token-exchange.js';
import type { ConnectionCatalog } from '../connections/connection.js';
import { Router, bearer, type RequestContext } from './router.js';
import { mountSessionsApi } from './sessions-api.js';
import { grantListRead, grantRead, reviewListRead, reviewRead, type ReadRecord } from './privileged-reads.js';
import { ReadRecorder } from './read-recorder.js';
import { clientAddress, TrustedProxies } from './client-address.js';
import { clip, DenialLimiter } from './denial-limiter.js';
import { isRefusedIdentity } from '../identity/subject-bindings.js';

export interface ApiOptions {
  logger: Logger;
  /** Proxies whose X-Forwarded-For names the client (config `trusted_proxies`): refusals are limited per client. */
  trustedProxies?: readonly string[];
  db: Database;
  verifyAccessToken: AccessTokenVerifier;
  grants: GrantService;
  reviews: ReviewService;
  catalog: ConnectionCatalog;
  roles: RoleConfig;
  wellKnown: WellKnown;
  recorder: PostgresRecorder;
  signingKey: SigningKey;
  /** Signs an audit checkpoint now (exports call it first). */
  checkpoint: () => Promise<void>;
  /** Verifies CI workload id_tokens; absent when no workload issuer is configured. */
  verifyWorkloadToken?: WorkloadVerifier;
  now?: () => Date;
}

export function createApi(o: ApiOptions): Router {
  const now = o.now ?? (() => new Date());
  const seenTokens = new Set<string>();
  const refusedTokens = new DenialLimiter({ record: (type, data) => o.recorder.event(type, null, data), logger: o.logger, now });
  const proxies = new TrustedProxies(o.trustedProxies ?? []);
  // Refused identities are security events too (the token itself is never recorded), but anyone can send
  // one: how many are recorded is limited per client address (see denial-limiter.ts).
  const refused = (ctx: RequestContext, e: unknown): void => {
    if (!isRefusedIdentity(e)) return;
    const subject = e.details?.subject;
    void refusedTokens.denied(clientAddress(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], proxies) ?? undefined, {
      reason: clip(e.message), path: clip(new URL(ctx.req.url ?? '/', 'http://x').pathname),
      ...(typeof subject === 'string' ? { subject, issuer: e.details?.issuer, sub: e.details?.sub } : {}),
    });
  };
  const who = async (ctx: RequestContext): Promise<Identity> => {
    try {
      const token = bearer(ctx.req);
      const id = await o.verifyAccessToken(token);
      // Token use: each distinct access token once per gateway process (its hash; never the token).
      const digest = createHash('sha256').update(token).digest('hex').slice(0, 32);
      if (!seenTokens.has(digest)) {
        if (seenTokens.size > 10_000) seenTokens.clear();
        seenTokens.add(digest);
        await o.recorder.event('auth.token_used', id.subject, { kind: id.kind, issuer: id.issuer, groups: id.groups, token_sha256_prefix: digest, ...id.claims });
      }
      return id;
    } catch (e) {
      refused(ctx, e);
      throw e;
    }
  };
  const decide = async (ctx: RequestContext, decision: 'approve' | 'reject'): Promise<{ body: unknown }> => {
    const id = await who(ctx);
    const body = ReviewDecisionRequestSchema.safeParse(await ctx.body());
    if (!body.success) throw new HoopError('usage', 'invalid decision: comment must be a string of at most 2000 characters');
    return { body: { review: await o.reviews.decide(id, ctx.params.id!, decision, body.data.comment ?? null) } };
  };
  const privileged = (id: Identity): boolean => hasRole(id, o.roles, 'admin') || hasRole(id, o.roles, 'auditor');
  // Reading others' sessions, reviews and grants through a role is evidence: recorded before the answer, or no
  // answer (privileged-reads.ts says which reads, read-recorder.ts how often).
  const reads = new ReadRecorder((actor, data) => o.recorder.event('audit.read', actor, data), now);
  const record = (id: Identity, read: ReadRecord): Promise<void> => reads.record(id.subject, read);

  const router = new Router(o.logger);
  mountAuditApi(router, { db: o.db, roles: o.roles, recorder: o.recorder, signingKey: o.signingKey, gatewayUrl: o.wellKnown.public_url, who, now, checkpoint: o.checkpoint });
  mountSessionsApi(router, { db: o.db, who, privileged, recordRead: (actor, data) => reads.record(actor, data), now });
  return router
    .on('GET', '/.well-known/hoop', async () => ({ body: o.wellKnown }))
    .on('GET', '/healthz', async () => {
      try {
        await o.db.query('SELECT 1');
        return { body: { status: 'ok', checks: { database: 'ok' } } };
      } catch {
        return { status: 503, body: { status: 'degraded', checks: { database: 'unreachable' } } };
      }
    })
    .on('GET', '/v1/me', async (ctx) => {
      const id = await who(ctx);
      return { body: { subject: id.subject, ...(id.name ? { name: id.name } : {}), groups: id.groups, roles: rolesOf(id, o.roles), identity_kind: id.kind } };
    })
    .on('GET', '/v1/connections', async (ctx) => {
      const id = await who(ctx);
      const connections: ConnectionSummary[] = o.catalog.all().map((c) => ({
        name: c.name,
        type: c.type,
        ...(c.description ? { description: c.description } : {}),
        database: c.database,
        allowed: o.grants.allows(id, c),
        requires_approval: c.requireApproval !== undefined && id.groups.some((g) => c.requireApproval!.groups.includes(g)),
        max_duration_seconds: Math.floor(c.maxDurationMs / 1000),
        default_port: c.defaultLocalPort,
      }));
      return { body: { connections } };
    })
    .on('POST', '/v1/grants', async (ctx) => {
      const id = await who(ctx);
      const parsed = GrantRequestSchema.safeParse(await ctx.body());
      if (!parsed.success) throw new HoopError('usage', `invalid grant request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
      const out = await o.grants.issue(id, parsed.data);
      return 'grant' in out ? { status: 201, body: out } : { status: 202, body: out };
    })
    .on('POST', '/v1/token-exchange', async (ctx) => {
      // RFC 8693: a CI job trades its workload id_token for a grant; no static secret anywhere.
      const req = parseTokenExchangeRequest((await ctx.body()) as Record<string, unknown>);
      if (!o.verifyWorkloadToken) {
        throw new HoopError('token_invalid', 'this gateway trusts no workload token issuers', {
          hint: 'an operator can add the CI provider under identity.workload_issuers',
        });
      }
      const id = await o.verifyWorkloadToken(req.subjectToken).catch((e: unknown) => {
        refused(ctx, e);
        throw e;
      });
      const out = await o.grants.issue(id, { connection: req.connection, duration: req.duration, reason: req.reason });
      if ('review' in out) {
        throw new HoopError('approval_pending', `access to "${req.connection}" needs approval: review ${out.review.id}`, {
          hint: `an approver runs \`hoop approve ${out.review.id}\`; then run the job again`,
          details: { review_id: out.review.id },
        });
      }
      return { body: tokenExchangeResponse(out.grant, now()) };
    })
    .on('GET', '/v1/grants', async (ctx) => {
      const id = await who(ctx);
      const all = ctx.query.get('all') === 'true';
      const active = ctx.query.get('active') === 'true';
      const grants = await o.grants.list(id, { all, active });
      await record(id, grantListRead(id, all, active, grants));
      return { body: { grants } };
    })
    .on('GET', '/v1/grants/:id', async (ctx) => {
      const id = await who(ctx);
      const grant = await o.grants.get(id, ctx.params.id!);
      await record(id, grantRead(id, grant));
      return { body: { grant } };
    })
    .on('POST', '/v1/grants/:id/renew', async (ctx) => ({ body: { grant: await o.grants.renew(await who(ctx), ctx.params.id!) } }))
    .on('POST', '/v1/grants/:id/revoke', async (ctx) => {
      const { grant, alreadyRevoked } = await o.grants.revoke(await who(ctx), ctx.params.id!);
      return { body: { grant, already_revoked: alreadyRevoked } };
    })
    .on('GET', '/v1/reviews', async (ctx) => {
      const id = await who(ctx);
      const limit = ctx.query.get('limit');
      const pending = ctx.query.get('pending') === 'true';
      const reviews = await o.reviews.list(id, { pending, ...(limit === null ? {} : { limit: Number(limit) }) });
      await record(id, reviewListRead(id, privileged(id), pending, reviews));
      return { body: { reviews } };
    })
    .on('GET', '/v1/reviews/:id', async (ctx) => {
      const id = await who(ctx);
      const review = await o.reviews.get(id, ctx.params.id!);
      await record(id, reviewRead(id, privileged(id), review));
      return { body: { review } };
    })
    .on('POST', '/v1/reviews/:id/approve', async (ctx) => decide(ctx, 'approve'))
    .on('POST', '/v1/reviews/:id/reject', async (ctx) => decide(ctx, 'reject'));
}
