/**
 * A small typed client for the gateway's HTTP API, used by the CLI and the agent. `fetch` is injected so tests
 * can run against a real local gateway. Every response is validated against the shared schemas; a problem+json
 * answer becomes the matching HoopError, and a network failure becomes `gateway_unreachable`.
 */
import type { z } from 'zod';
import { HoopError, fromProblem } from '../errors.js';
import { fetchFailure, type FetchFailure } from '../net/fetch-failure.js';
import {
  ConnectionListSchema, GrantListSchema, GrantOrReviewSchema, GrantResponseSchema, MeSchema, RevokeResponseSchema, ReviewListSchema, ReviewResponseSchema,
  SessionDetailSchema, SessionListSchema, WellKnownSchema, AuditRecordPageSchema, CheckpointListSchema, KeyListSchema, ExportSchema,
  ReplaySchema, type Replay,
  type ConnectionSummary, type Grant, type GrantRequest, type Me, type Review, type SessionDetail, type SessionSummary, type WellKnown,
} from './schemas.js';
import { TokenExchangeResponseSchema, tokenExchangeRequestBody, type TokenExchangeRequestInput } from './token-exchange.js';

export type FetchLike = typeof fetch;

export interface GatewayClientOptions {
  baseUrl: string;
  /** Returns a fresh IdP access token (refreshing silently) for calls that need identity. */
  accessToken?: () => Promise<string>;
  fetch?: FetchLike;
  userAgent?: string;
  timeoutMs?: number;
}

export interface SessionQuery {
  connection?: string;
  user?: string;
  since?: string;
  grant?: string;
  decision?: string;
  text?: string;
  limit?: number;
}

export class GatewayClient {
  readonly baseUrl: string;
  readonly #opts: GatewayClientOptions;
  readonly #fetch: FetchLike;

  constructor(opts: GatewayClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.#opts = opts;
    this.#fetch = opts.fetch ?? fetch;
  }

  wellKnown(): Promise<WellKnown> {
    return this.#call('GET', '/.well-known/hoop', WellKnownSchema, { auth: false });
  }

  me(): Promise<Me> {
    return this.#call('GET', '/v1/me', MeSchema);
  }

  async connections(): Promise<ConnectionSummary[]> {
    return (await this.#call('GET', '/v1/connections', ConnectionListSchema)).connections;
  }

  /** A grant, or — when the caller's access needs approval — the pending access review to wait for. */
  requestGrant(req: GrantRequest): Promise<{ grant: Grant } | { review: Review }> {
    return this.#call('POST', '/v1/grants', GrantOrReviewSchema, { body: req });
  }

  async reviews(params: { pending?: boolean } = {}): Promise<Review[]> {
    return (await this.#call('GET', `/v1/reviews${params.pending ? '?pending=true' : ''}`, ReviewListSchema)).reviews;
  }

  async review(id: string): Promise<Review> {
    return (await this.#call('GET', `/v1/reviews/${encodeURIComponent(id)}`, ReviewResponseSchema)).review;
  }

  async decideReview(id: string, decision: 'approve' | 'reject', comment?: string): Promise<Review> {
    const body = comment === undefined ? {} : { comment };
    return (await this.#call('POST', `/v1/reviews/${encodeURIComponent(id)}/${decision}`, ReviewResponseSchema, { body })).review;
  }

  /** RFC 8693 token exchange: a workload id_token (CI) for a grant. Needs no access token. */
  async exchangeToken(req: TokenExchangeRequestInput): Promise<Grant & { token: string }> {
    const res = await this.#call('POST', '/v1/token-exchange', TokenExchangeResponseSchema, { body: tokenExchangeRequestBody(req), auth: false });
    return { ...res.grant, token: res.access_token };
  }

  /** `GET /v1/grants/{id}`: one grant as it stands (revoked_at, expires_at); the caller's own, or any for an admin. */
  async getGrant(id: string): Promise<Grant> {
    return (await this.#call('GET', `/v1/grants/${encodeURIComponent(id)}`, GrantResponseSchema)).grant;
  }

  async renewGrant(id: string): Promise<Grant> {
    return (await this.#call('POST', `/v1/grants/${encodeURIComponent(id)}/renew`, GrantResponseSchema, { body: {} })).grant;
  }

  async revokeGrant(id: string): Promise<{ grant: Grant; alreadyRevoked: boolean }> {
    const r = await this.#call('POST', `/v1/grants/${encodeURIComponent(id)}/revoke`, RevokeResponseSchema, { body: {} });
    return { grant: r.grant, alreadyRevoked: r.already_revoked === true };
  }

  async grants(params: { all?: boolean; active?: boolean } = {}): Promise<Grant[]> {
    const q = new URLSearchParams();
    if (params.all) q.set('all', 'true');
    if (params.active) q.set('active', 'true');
    return (await this.#call('GET', `/v1/grants${q.size ? '?' + q.toString() : ''}`, GrantListSchema)).grants;
  }

  /** A page of records; a later page passes the `continuation` of the one before, so the read is recorded once. */
  auditRecords(q: { fromSeq: number; limit: number; since?: string; continuation?: string }): Promise<z.infer<typeof AuditRecordPageSchema>> {
    const p = new URLSearchParams({ from_seq: String(q.fromSeq), limit: String(q.limit) });
    if (q.since) p.set('since', q.since);
    if (q.continuation) p.set('continuation', q.continuation);
    return this.#call('GET', `/v1/audit/records?${p.toString()}`, AuditRecordPageSchema);
  }

  async auditCheckpoints(): Promise<z.infer<typeof CheckpointListSchema>['checkpoints']> {
    return (await this.#call('GET', '/v1/audit/checkpoints', CheckpointListSchema)).checkpoints;
  }

  async auditKeys(): Promise<Record<string, unknown>[]> {
    return (await this.#call('GET', '/v1/audit/keys', KeyListSchema, { auth: false })).keys;
  }

  /** The files of a signed evidence bundle (base64), written by the gateway. */
  async auditExport(q: { since?: string; until?: string }): Promise<Record<string, string>> {
    return (await this.#call('POST', '/v1/audit/export', ExportSchema, { body: q })).files;
  }

  replay(id: string): Promise<Replay> {
    return this.#call('GET', `/v1/sessions/${encodeURIComponent(id)}/replay`, ReplaySchema);
  }

  async sessions(query: SessionQuery = {}): Promise<SessionSummary[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    return (await this.#call('GET', `/v1/sessions${q.size ? '?' + q.toString() : ''}`, SessionListSchema)).sessions;
  }

  session(id: string): Promise<SessionDetail> {
    return this.#call('GET', `/v1/sessions/${encodeURIComponent(id)}`, SessionDetailSchema);
  }

  async #call<S extends z.ZodType>(
    method: string, path: string, schema: S, opt: { body?: unknown; auth?: boolean } = {},
  ): Promise<z.infer<S>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#opts.userAgent) headers['user-agent'] = this.#opts.userAgent;
    if (opt.auth !== false) {
      if (!this.#opts.accessToken) throw new HoopError('login_required', 'not logged in', { hint: 'run `hoop login`' });
      headers.authorization = `Bearer ${await this.#opts.accessToken()}`;
    }
    if (opt.body !== undefined) headers['content-type'] = 'application/json';
    const url = this.baseUrl + path;
    const timeoutMs = this.#opts.timeoutMs ?? 30_000;
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        ...(opt.body !== undefined ? { body: JSON.stringify(opt.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const f = fetchFailure(e, timeoutMs);
      throw new HoopError('gateway_unreachable', `cannot reach the gateway at ${this.baseUrl} (${f.reason})`, {
        cause: e,
        hint: networkHint(this.baseUrl, f),
      });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text.length ? JSON.parse(text) : {};
    } catch (e) {
      throw new HoopError('internal', `the gateway answered ${method} ${path} with HTTP ${res.status} and a body that is not JSON`, { cause: e });
    }
    if (!res.ok && res.status !== 202) throw fromProblem(json as Record<string, never>, res.status);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new HoopError('internal', `unexpected answer from the gateway to ${method} ${path}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
        cause: parsed.error,
        hint: 'the CLI and the gateway may be different versions',
      });
    }
    return parsed.data;
  }
}

/** What to do about a failed fetch. */
function networkHint(baseUrl: string, f: FetchFailure): string {
  if (f.untrusted) return 'the gateway\'s TLS certificate is not trusted here: install your company CA, or set NODE_EXTRA_CA_CERTS to its PEM file';
  if (baseUrl.startsWith('http://') && f.closedBeforeAnswering) return `the gateway may be serving https: try ${baseUrl.replace(/^http:/, 'https:')}`;
  return 'check the URL (`hoop login --gateway URL`) and that the gateway is running';
}
