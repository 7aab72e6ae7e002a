/**
 * The evidence endpoints, for auditors and admins: the raw chain (so the CLI verifies it itself, trusting only
 * the published key), checkpoints, keys, signed export bundles, and session replays. Every read is itself
 * recorded in the chain: a paged read of the records once, at its first page (see read-continuation.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoopError } from '../../shared/errors.js';
import { ExportRequestSchema } from '../../shared/api/schemas.js';
import type { AuditRecord } from '../../shared/audit/record.js';
import type { Database } from '../store/db.js';
import { readCheckpoints, readPayload, readPublicKeys, readRecords, seqRangeForTime } from '../audit/reader.js';
import { exportBundle } from '../audit/export.js';
import type { SigningKey } from '../grants/signing-key.js';
import { hasRole, type Identity, type RoleConfig } from '../identity/identity.js';
import type { PostgresRecorder } from '../recording/recorder.js';
import type { Router } from './router.js';
import { getSession, sinceToDate } from './sessions-query.js';
import { ReadContinuations } from './read-continuation.js';

export interface AuditApiOptions {
  db: Database;
  roles: RoleConfig;
  recorder: PostgresRecorder;
  signingKey: SigningKey;
  gatewayUrl: string;
  who: (req: Parameters<Parameters<Router['on']>[2]>[0]) => Promise<Identity>;
  /** Signs a checkpoint at the current head (after flushing), so an export's every record is signed. */
  checkpoint: () => Promise<void>;
  now: () => Date;
}

const MAX_PAGE = 5000;

export function mountAuditApi(router: Router, o: AuditApiOptions): void {
  const continuations = ReadContinuations.fromSigningKey(o.signingKey.privateKey, o.now);
  const recordRead = (id: Identity, what: string, params: Record<string, unknown>): Promise<void> =>
    o.recorder.event('audit.read', id.subject, { what, ...params });
  const auditor = async (ctx: Parameters<Parameters<Router['on']>[2]>[0], what: string, params: Record<string, unknown> = {}): Promise<Identity> => {
    const id = await auditorQuiet(ctx);
    await recordRead(id, what, params);
    return id;
  };

  router
    .on('GET', '/v1/audit/records', async (ctx) => {
      const id = await auditorQuiet(ctx);
      const since = ctx.query.get('since');
      let from = Number(ctx.query.get('from_seq') ?? '1');
      const limit = Math.min(Number(ctx.query.get('limit') ?? '1000'), MAX_PAGE);
      if (!Number.isInteger(from) || from < 1 || !Number.isInteger(limit) || limit < 1) throw new HoopError('usage', 'from_seq and limit must be positive integers');
      // Validated before the read is recorded: a malformed request is refused, not recorded.
      const sinceDate = since ? sinceToDate(since, o.now()) : undefined;
      const continuation = ctx.query.get('continuation');
      if (continuation !== null && since !== null) {
        throw new HoopError('usage', 'since applies to the first page of a read; later pages give from_seq and the continuation only');
      }
      // A later page of a read is not recorded again, but only with the continuation the page before it was
      // given; anything else (no continuation, a `page` flag, a forged or expired one) is recorded as a read.
      const resumed = continuation === null ? undefined : continuations.verify(continuation, id.subject, from);
      const readId = resumed?.readId ?? randomUUID();
      if (!resumed) {
        await recordRead(id, 'records', { since, from_seq: from, read_id: readId, ...(continuation !== null ? { continuation: 'not accepted' } : {}) });
      }
      if (sinceDate) {
        const r = await seqRangeForTime(o.db, sinceDate, undefined);
        if (!r) return { body: { records: [], next_from_seq: null, anchor: null } };
        from = Math.max(from, r.first);
      }
      const records: AuditRecord[] = [];
      for await (const r of readRecords(o.db, { fromSeq: from, toSeq: from + limit - 1, pageSize: limit })) records.push(r);
      const last = records.at(-1);
      const anchor = from > 1 ? await anchorBefore(o.db, from) : null;
      const next = last && records.length === limit ? last.seq + 1 : null;
      return { body: { records, next_from_seq: next, anchor, continuation: next === null ? null : continuations.issue(id.subject, readId, next) } };
    })
    .on('GET', '/v1/audit/checkpoints', async (ctx) => {
      await auditorQuiet(ctx);
      return { body: { checkpoints: await readCheckpoints(o.db) } };
    })
    .on('GET', '/v1/audit/keys', async () => ({ body: { keys: await readPublicKeys(o.db) } }))
    .on('POST', '/v1/audit/export', async (ctx) => {
      // Who asks is checked before anything they sent is read.
      const id = await auditorQuiet(ctx);
      const body = ExportRequestSchema.safeParse(await ctx.body());
      if (!body.success) {
        throw new HoopError('usage', `invalid export request: ${body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`, {
          hint: 'since and until are times: 24h, 7d, or an ISO time',
        });
      }
      const since = body.data.since ? sinceToDate(body.data.since, o.now()) : undefined;
      const until = body.data.until ? sinceToDate(body.data.until, o.now()) : undefined;
      await recordRead(id, 'export', { since: since?.toISOString() ?? null, until: until?.toISOString() ?? null });
      await o.checkpoint();
      const dir = await mkdtemp(join(tmpdir(), 'hoop-export-'));
      try {
        const { sessions, statements } = await csvViews(o.db, since, until ?? o.now());
        await exportBundle(o.db, await readPublicKeys(o.db), {
          outDir: dir, gatewayUrl: o.gatewayUrl, signingKey: o.signingKey, now: o.now, sessions, statements,
          ...(since ? { since } : {}), ...(until ? { until } : {}),
        });
        const files: Record<string, string> = {};
        for (const name of await readdir(dir)) files[name] = (await readFile(join(dir, name))).toString('base64');
        return { body: { files } };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })
    .on('GET', '/v1/sessions/:id/replay', async (ctx) => {
      await auditor(ctx, 'replay', { session_id: ctx.params.id });
      const detail = await getSession(o.db, ctx.params.id!, undefined);
      const rows = await o.db.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_log WHERE session_id = $1 ORDER BY audit_log.seq', [ctx.params.id]);
      const events: (AuditRecord & { payload?: unknown })[] = [];
      for (const r of rows.rows) {
        for await (const rec of readRecords(o.db, { fromSeq: Number(r.seq), toSeq: Number(r.seq) })) {
          const payload = rec.type === 'statement.result' ? await readPayload(o.db, rec.seq) : undefined;
          events.push(payload === undefined || payload === null ? rec : { ...rec, payload });
        }
      }
      // Who approved: the review's decisions, for statements that ran under a review.
      const reviewIds = [...new Set(events.map((e) => (e.data.details as { review_id?: unknown } | undefined)?.review_id).filter((x): x is string => typeof x === 'string'))];
      const approvers = new Map<string, string[]>();
      if (reviewIds.length) {
        const d = await o.db.query<{ review_id: string; approver: string }>(
          `SELECT review_id::text, approver FROM review_decisions WHERE review_id = ANY($1::uuid[]) AND decision = 'approve' ORDER BY at`, [reviewIds],
        );
        for (const r of d.rows) approvers.set(r.review_id, [...(approvers.get(r.review_id) ?? []), r.approver]);
      }
      const enriched = events.map((e) => {
        const rid = (e.data.details as { review_id?: unknown } | undefined)?.review_id;
        return typeof rid === 'string' && approvers.has(rid) ? { ...e, approvers: approvers.get(rid) } : e;
      });
      return { body: { session: detail.session, events: enriched } };
    });

  /** The caller, if an auditor or admin; nothing recorded (the caller records the read once it is valid). */
  async function auditorQuiet(ctx: Parameters<Parameters<Router['on']>[2]>[0]): Promise<Identity> {
    const id = await o.who(ctx);
    if (!hasRole(id, o.roles, 'auditor') && !hasRole(id, o.roles, 'admin')) {
      throw new HoopError('access_denied', 'reading the audit log needs the auditor or admin role', {
        hint: `members of ${[...o.roles.auditors].join(', ') || 'the auditor groups'} have it`,
      });
    }
    return id;
  }
}

/** The hash of the record before `seq`: a range that starts mid-chain links to it. */
async function anchorBefore(db: Database, seq: number): Promise<{ seq: number; hash: string } | null> {
  const r = await db.query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM audit_log WHERE seq < $1 ORDER BY audit_log.seq DESC LIMIT 1', [seq]);
  const row = r.rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash } : null;
}

/** Spreadsheet views for the bundle: sessions and statements in the range. */
async function csvViews(db: Database, since: Date | undefined, until: Date): Promise<{ sessions: object[]; statements: object[] }> {
  const sessions = await db.query(
    `SELECT id, connection, subject, grant_id, client_application, client_user, started_at, ended_at, end_reason, bytes_from_client, bytes_to_client, statement_count
       FROM sessions WHERE ($1::timestamptz IS NULL OR started_at >= $1) AND started_at < $2 ORDER BY started_at`,
    [since ?? null, until],
  );
  const statements = await db.query(
    `SELECT t.session_id, s.subject, s.connection, t.seq, t.started_at, t.protocol, t.decision, t.text, t.parameters::text AS parameters,
            t.duration_ms, t.rows, t.command_tag, t.error_code, t.error_message
       FROM statements t JOIN sessions s ON s.id = t.session_id
      WHERE ($1::timestamptz IS NULL OR t.started_at >= $1) AND t.started_at < $2 ORDER BY t.started_at, t.seq`,
    [since ?? null, until],
  );
  const iso = (row: Record<string, unknown>): object => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
  return { sessions: sessions.rows.map(iso), statements: statements.rows.map(iso) };
}
