/**
 * Why a `fetch` failed, in words a person can act on. undici rejects with a TypeError ("fetch failed") whose
 * `cause` holds the socket or TLS error; a timeout signal rejects with a TimeoutError. One reading for the CLI's
 * API client, the agent's gateway probe and the gateway's identity-provider check.
 */
import { isUntrustedCertificate } from './tls-trust.js';

export interface FetchFailure {
  /** The socket or TLS error code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…), when there is one. */
  code: string | undefined;
  /** A short reason: "connection refused", "no answer within 5 s", "TLS certificate not trusted (…)"… */
  reason: string;
  /** The peer's certificate is not trusted here (NODE_EXTRA_CA_CERTS is the usual fix). */
  untrusted: boolean;
  /** The server took the connection and closed or reset it without an answer: what a TLS server does with plain HTTP. */
  closedBeforeAnswering: boolean;
}

export function fetchFailure(e: unknown, timeoutMs?: number): FetchFailure {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  const untrusted = isUntrustedCertificate(code);
  const closedBeforeAnswering = code === 'UND_ERR_SOCKET' || code === 'ECONNRESET';
  return { code, untrusted, closedBeforeAnswering, reason: reasonFor(e, code, cause?.message, untrusted, timeoutMs) };
}

function reasonFor(e: unknown, code: string | undefined, message: string | undefined, untrusted: boolean, timeoutMs: number | undefined): string {
  if (e instanceof Error && e.name === 'TimeoutError') return timeoutMs === undefined ? 'timed out' : `no answer within ${timeoutMs / 1000} s`;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'host not found';
  if (untrusted) return `TLS certificate not trusted (${code})`;
  return message ?? code ?? (e instanceof Error ? e.message : String(e));
}
