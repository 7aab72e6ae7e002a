/**
 * The gateway's HTTP API contract, shared by the gateway (which validates requests) and the CLI and agent
 * (which validate responses). Every field is snake_case on the wire.
 *
 * Errors are problem+json (see shared/errors.ts `Problem`).
 */
import { z } from 'zod';

/** `GET /.well-known/hoop`: what a client needs to log in and verify what the gateway signs. */
export const WellKnownSchema = z.object({
  public_url: z.string(),
  issuer: z.string(),            // the IdP's issuer URL
  cli_client_id: z.string(),     // the public OIDC client the CLI uses
  audience: z.string(),          // the resource / audience the gateway expects in access tokens
  audience_param: z.boolean().optional(), // send `audience` on the login requests (Auth0); absent from older gateways
  scopes: z.array(z.string()),   // scopes the CLI should ask for
  grant_jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), // Ed25519 public keys (grants, checkpoints)
  version: z.string(),
});
export type WellKnown = z.infer<typeof WellKnownSchema>;

/** `GET /v1/me`: who the gateway thinks the caller is. */
export const MeSchema = z.object({
  subject: z.string(),
  name: z.string().optional(),
  groups: z.array(z.string()),
  roles: z.array(z.string()),     // e.g. "admin", "auditor"
  identity_kind: z.enum(['user', 'client', 'workload']),
});
export type Me = z.infer<typeof MeSchema>;

export const ConnectionSummarySchema = z.object({
  name: z.string(),
  type: z.enum(['postgres']),
  description: z.string().optional(),
  database: z.string().optional(),
  allowed: z.boolean(),           // whether the caller may ask for a grant
  requires_approval: z.boolean(), // whether the caller's grants need an approver first (just-in-time access)
  max_duration_seconds: z.number().int(),
  default_port: z.number().int(),
});
export type ConnectionSummary = z.infer<typeof ConnectionSummarySchema>;
export const ConnectionListSchema = z.object({ connections: z.array(ConnectionSummarySchema) });

/** `POST /v1/grants` */
export const GrantRequestSchema = z.object({
  // Bounded here; the gateway checks the connection-name rule itself. Each may end up in a denial record.
  connection: z.string().min(1).max(63),
  /** An approved access review to turn into a grant (just-in-time access). */
  review_id: z.string().max(36).optional(),
  duration: z.string().max(32).optional(),  // e.g. "1h"; capped by the connection's max_duration
  reason: z.string().max(1000).optional(),
});
export type GrantRequest = z.infer<typeof GrantRequestSchema>;

export const GrantSchema = z.object({
  id: z.string(),
  connection: z.string(),
  type: z.enum(['postgres']),
  subject: z.string(),
  groups: z.array(z.string()),
  issued_at: z.string(),
  expires_at: z.string(),
  revoked_at: z.string().nullable().optional(),
  reason: z.string().nullable().optional(),
  /** The signed grant. Present only in the answer to the subject who asked for it. */
  token: z.string().optional(),
});
export type Grant = z.infer<typeof GrantSchema>;
export const GrantResponseSchema = z.object({ grant: GrantSchema });
/** `POST /v1/grants/{id}/revoke`: `already_revoked` when it was revoked before this call (nothing changed). */
export const RevokeResponseSchema = z.object({ grant: GrantSchema, already_revoked: z.boolean().optional() });
export const GrantListSchema = z.object({ grants: z.array(GrantSchema) });

export const SessionSummarySchema = z.object({
  id: z.string(),
  connection: z.string(),
  subject: z.string(),
  grant_id: z.string().nullable(),
  client_application: z.string().nullable(),
  client_user: z.string().nullable(),
  database: z.string().nullable(),
  started_at: z.string(),
  ended_at: z.string().nullable(),
  end_reason: z.string().nullable(),
  bytes_from_client: z.number(),
  bytes_to_client: z.number(),
  statement_count: z.number(),
  /** Who the grant was issued to: a user, an OAuth client, or a CI job (with its repository, workflow, run id…). */
  identity: z.object({ kind: z.string(), claims: z.record(z.string(), z.unknown()) }).nullable(),
});
export type SessionSummary = z.infer<typeof SessionSummarySchema>;
export const SessionListSchema = z.object({ sessions: z.array(SessionSummarySchema) });

export const StatementRecordSchema = z.object({
  seq: z.number().int(),
  text: z.string(),
  parameters: z.array(z.string().nullable()).nullable(),
  protocol: z.enum(['simple', 'extended']),
  started_at: z.string(),
  duration_ms: z.number().nullable(),
  rows: z.number().nullable(),
  command_tag: z.string().nullable(),
  error_code: z.string().nullable(),   // SQLSTATE
  error_message: z.string().nullable(),
  decision: z.string(),                // "allow" in the foundation; policy adds block/approve/mask
});
export type StatementRecord = z.infer<typeof StatementRecordSchema>;
export const SessionDetailSchema = z.object({
  session: SessionSummarySchema,
  statements: z.array(StatementRecordSchema),
});
export type SessionDetail = z.infer<typeof SessionDetailSchema>;

export const HealthSchema = z.object({ status: z.enum(['ok', 'degraded']), checks: z.record(z.string(), z.string()) });

/** A review: a statement held for approval, or a just-in-time access request. */
export const ReviewSchema = z.object({
  id: z.string(),
  kind: z.enum(['statement', 'access']),
  connection: z.string(),
  requester: z.string(),
  reason: z.string().nullable(),
  statement: z.string().nullable(),
  parameters: z.array(z.string().nullable()).nullable(),
  rule: z.string().nullable(),
  duration_seconds: z.number().nullable(),
  approver_groups: z.array(z.string()),
  min_approvals: z.number().int(),
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'used']),
  created_at: z.string(),
  expires_at: z.string(),
  decided_at: z.string().nullable(),
  decisions: z.array(z.object({ approver: z.string(), decision: z.enum(['approve', 'reject']), comment: z.string().nullable(), at: z.string() })),
  /** Whether the caller may decide it now. */
  can_decide: z.boolean(),
});
export type Review = z.infer<typeof ReviewSchema>;
export const ReviewResponseSchema = z.object({ review: ReviewSchema });
export const ReviewListSchema = z.object({ reviews: z.array(ReviewSchema) });
export const ReviewDecisionRequestSchema = z.object({ comment: z.string().max(2000).optional() });

/** `POST /v1/grants` answers 201 with a grant, or 202 with a pending access review. */
export const GrantOrReviewSchema = z.union([GrantResponseSchema, ReviewResponseSchema]);

/** Audit records as the chain stores them (see shared/audit/record.ts); validated loosely: the verifier checks them. */
const AuditRecordSchema = z.object({
  v: z.number(), seq: z.number(), time: z.string(), type: z.string(), actor: z.string().nullable(), session_id: z.string().nullable(),
  connection: z.string().nullable(), data: z.record(z.string(), z.unknown()), prev_hash: z.string(), hash: z.string(),
});
/**
 * `GET /v1/audit/records?from_seq=&limit=[&since=][&continuation=]`. The first page of a read is recorded as an
 * `audit.read`; a later page is not when it gives `from_seq=next_from_seq` and the `continuation` of the page
 * before (issued for that reader and seq, valid for a few minutes). Null on the last page.
 */
export const AuditRecordPageSchema = z.object({
  records: z.array(AuditRecordSchema),
  next_from_seq: z.number().nullable(),
  anchor: z.object({ seq: z.number(), hash: z.string() }).nullable(),
  continuation: z.string().nullable().optional(), // absent from older gateways
});
/** `POST /v1/audit/export`: the time range (24h, 7d, or an ISO time); both optional. */
export const ExportRequestSchema = z.object({
  since: z.string().min(1).max(64).optional(),
  until: z.string().min(1).max(64).optional(),
});
export const CheckpointListSchema = z.object({
  checkpoints: z.array(z.object({ seq: z.number(), hash: z.string(), time: z.string(), kid: z.string(), sig: z.string() })),
});
export const KeyListSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });
export const ExportSchema = z.object({ files: z.record(z.string(), z.string()) });
export const ReplaySchema = z.object({
  session: SessionSummarySchema,
  events: z.array(AuditRecordSchema.extend({ payload: z.unknown().optional(), approvers: z.array(z.string()).optional() })),
});
export type Replay = z.infer<typeof ReplaySchema>;
