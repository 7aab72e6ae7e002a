/**
 * `POST /v1/token-exchange`: OAuth 2.0 Token Exchange (RFC 8693) as hoop uses it. A CI job trades its workload
 * id_token for a grant on one connection, with no static secret.
 *
 * Request (`application/x-www-form-urlencoded`, or the same fields as JSON):
 * - `grant_type` = {@link GRANT_TYPE_TOKEN_EXCHANGE}
 * - `subject_token` = the workload id_token; `subject_token_type` = {@link TOKEN_TYPE_ID_TOKEN} or {@link TOKEN_TYPE_JWT}
 * - `audience` = the connection name (RFC 8693 §2.1: "the logical name of the target service")
 * - `requested_token_type` (optional) = {@link TOKEN_TYPE_HOOP_GRANT}
 * - hoop extensions: `duration` (e.g. "15m") and `reason`, as in `POST /v1/grants`
 *
 * The response is RFC 8693 §2.2.1 plus `grant`, the same object `POST /v1/grants` answers with.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693
 */
import { z } from 'zod';
import { GrantSchema } from './schemas.js';

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
/** The token type hoop issues: a signed grant, presented to the tunnel, not a bearer token for other APIs. */
export const TOKEN_TYPE_HOOP_GRANT = 'urn:hoop:params:oauth:token-type:grant';

export const SUBJECT_TOKEN_TYPES = [TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT] as const;
export type SubjectTokenType = (typeof SUBJECT_TOKEN_TYPES)[number];

/** RFC 8693 §2.2.1 successful response, plus the hoop grant. */
export const TokenExchangeResponseSchema = z.object({
  access_token: z.string().min(1),
  issued_token_type: z.literal(TOKEN_TYPE_HOOP_GRANT),
  /** "N_A": the issued token is not an OAuth access token (RFC 8693 §2.2.1). */
  token_type: z.literal('N_A'),
  expires_in: z.number().int().nonnegative(),
  grant: GrantSchema,
});
export type TokenExchangeResponse = z.infer<typeof TokenExchangeResponseSchema>;

export interface TokenExchangeRequestInput {
  subjectToken: string;
  subjectTokenType?: SubjectTokenType;
  connection: string;
  duration?: string;
  reason?: string;
}

/** The form fields a client sends (see the module comment); the gateway parses them back. */
export function tokenExchangeRequestBody(req: TokenExchangeRequestInput): Record<string, string> {
  const body: Record<string, string> = {
    grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
    subject_token: req.subjectToken,
    subject_token_type: req.subjectTokenType ?? TOKEN_TYPE_ID_TOKEN,
    audience: req.connection,
    requested_token_type: TOKEN_TYPE_HOOP_GRANT,
  };
  if (req.duration !== undefined) body.duration = req.duration;
  if (req.reason !== undefined) body.reason = req.reason;
  return body;
}
