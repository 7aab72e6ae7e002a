/**
 * `GET /v1/sessions` and `GET /v1/sessions/:id` (`hoop sessions`, `hoop sessions show`). Users see their own
 * sessions; admins and auditors see everyone's, and that read of others' sessions is recorded in the chain
 * before it is answered (privileged-reads.ts): a read whose record cannot be written fails, as a replay does.
 */
import type { Queryable } from '../store/db.js';
import type { Identity } from '../identity/identity.js';
import type { RequestContext, Router } from './router.js';
import { getSession, listSessions } from './sessions-query.js';
import { sessionDetailRead, sessionListRead, type ReadRecord } from './privileged-reads.js';

export interface SessionsApiOptions {
  db: Queryable;
  who: (ctx: RequestContext) => Promise<Identity>;
  /** Whether the caller is an admin or an auditor (who see everyone's sessions). */
  privileged: (id: Identity) => boolean;
  /** Appends an `audit.read` record by `actor`; rejects when it cannot be written. */
  recordRead: (actor: string, data: Record<string, unknown>) => Promise<void>;
  now: () => Date;
}

/** The list's filters, as query parameters. */
const FILTERS = ['connection', 'user', 'since', 'grant', 'decision', 'text', 'limit'] as const;

export function mountSessionsApi(router: Router, o: SessionsApiOptions): void {
  const record = async (id: Identity, read: ReadRecord): Promise<void> => {
    if (read) await o.recordRead(id.subject, read);
  };
  router
    .on('GET', '/v1/sessions', async (ctx) => {
      const id = await o.who(ctx);
      const q = Object.fromEntries(FILTERS.map((k) => [k, ctx.query.get(k) ?? undefined])) as Record<(typeof FILTERS)[number], string | undefined>;
      const privileged = o.privileged(id);
      // Validated and run before the read is recorded: a malformed request is refused, not recorded.
      const sessions = await listSessions(o.db, {
        ...q,
        limit: q.limit === undefined ? undefined : Number(q.limit),
        onlySubject: privileged ? undefined : id.subject,
      }, o.now());
      await record(id, sessionListRead(id, privileged, q, sessions));
      return { body: { sessions } };
    })
    .on('GET', '/v1/sessions/:id', async (ctx) => {
      const id = await o.who(ctx);
      const detail = await getSession(o.db, ctx.params.id!, o.privileged(id) ? undefined : id.subject);
      // Someone else's statements and parameters are evidence: reading them is recorded (before they are sent),
      // as a replay is. Reading one's own session is not.
      await record(id, sessionDetailRead(id, detail));
      return { body: detail };
    });
}
