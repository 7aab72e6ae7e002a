/**
 * A connection's policy as every engine receives it, whatever the protocol: the parser (loaded once), the
 * guardrails and approval rules, the masking rules, and the reviews port that holds statements for approval.
 */
import type { Review } from '../../shared/api/schemas.js';
import type { MaskingRules } from '../config/masking-schema.js';
import type { Identity } from '../identity/identity.js';
import type { ApprovalRule, GuardrailPolicy } from './guardrails.js';
import type { ParsedSql } from './sql/facts.js';
import type { SqlParser } from './sql/parser.js';

export interface ConnectionPolicy {
  parser: SqlParser;
  /** Parse results by statement text, shared by the connection's sessions (parsing is pure). */
  cache?: Map<string, ParsedSql>;
  guardrails: GuardrailPolicy;
  approvals: readonly ApprovalRule[];
  masking: MaskingRules | null;
}

/** What the gate needs from reviews. */
export interface StatementReviews {
  createStatementReview(i: {
    requester: Identity; connection: string; sessionId: string; statement: string; parameters: (string | null)[] | null;
    rule: string; approverGroups: readonly string[]; minApprovals: number; timeoutMs: number;
  }): Promise<Review>;
  waitForDecision(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Review['status']>;
  consumeStatement(id: string, subject: string, connection: string, hash: string): Promise<boolean>;
  get(viewer: Identity, id: string): Promise<Review>;
}
