/**
 * What the gateway checks once it is up and only warns about: things that will make users fail later but need
 * not stop it (an identity provider that may come back; a certificate that is about to expire). `hoop gateway
 * check` runs the same checks before a start, and fails on the ones that make the gateway unusable.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { discoverJwksUri } from './identity/verify-access-token.js';
import { fetchFailure } from '../shared/net/fetch-failure.js';

const SOON_MS = 14 * 24 * 3600 * 1000;

/** A problem with the served certificate. `expired` and `not_yet_valid` make every client refuse the gateway. */
export interface CertificateIssue {
  kind: 'expired' | 'expiring' | 'not_yet_valid' | 'wrong_host';
  message: string;
}

/** Problems with the certificate the gateway serves, seen from its users: expiry, and the name they reach it by. */
export function certificateIssues(certPem: string, publicUrl: string, now: Date): CertificateIssue[] {
  const cert = new X509Certificate(certPem);
  const out: CertificateIssue[] = [];
  const until = new Date(cert.validTo);
  if (until.getTime() <= now.getTime()) {
    out.push({ kind: 'expired', message: `the certificate in tls.cert_file expired at ${until.toISOString()}: clients will refuse the gateway until it is replaced` });
  } else if (until.getTime() - now.getTime() < SOON_MS) {
    out.push({ kind: 'expiring', message: `the certificate in tls.cert_file expires at ${until.toISOString()}: replace it before then` });
  }
  if (new Date(cert.validFrom).getTime() > now.getTime()) {
    out.push({ kind: 'not_yet_valid', message: `the certificate in tls.cert_file is not valid before ${new Date(cert.validFrom).toISOString()}` });
  }
  const host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '');
  const matches = isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
  if (!matches) {
    out.push({ kind: 'wrong_host', message: `the certificate in tls.cert_file is not for ${host} (the host in public_url): clients that reach the gateway by that name will refuse it` });
  }
  return out;
}

/** {@link certificateIssues}, as the warnings the gateway logs at start. */
export function certificateWarnings(certPem: string, publicUrl: string, now: Date): string[] {
  return certificateIssues(certPem, publicUrl, now).map((i) => i.message);
}

/** Why the identity provider's discovery cannot be used now, or null when it can. */
export async function issuerProblem(issuer: string, timeoutMs = 5000, doFetch: typeof fetch = fetch): Promise<string | null> {
  try {
    await discoverJwksUri(issuer, doFetch, timeoutMs);
    return null;
  } catch (e) {
    return fetchProblem(e, timeoutMs);
  }
}

/** An issuer whose tokens can be verified now: where its keys are, and how many it publishes. */
export type IssuerKeys = { ok: true; jwksUri: string; keys: number } | { ok: false; reason: string };

/**
 * Fetches the issuer's discovery document and then its JWKS, as token verification does on the first token:
 * both must answer, the document must name the issuer, and the key set must hold at least one key.
 */
export async function issuerKeys(issuer: string, timeoutMs = 5000, doFetch: typeof fetch = fetch): Promise<IssuerKeys> {
  let jwksUri: string;
  try {
    jwksUri = await discoverJwksUri(issuer, doFetch, timeoutMs);
  } catch (e) {
    return { ok: false, reason: fetchProblem(e, timeoutMs) };
  }
  try {
    const res = await doFetch(jwksUri, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!res.ok) return { ok: false, reason: `its jwks_uri ${jwksUri} answered HTTP ${res.status}` };
    const body = (await res.json()) as { keys?: unknown };
    const keys = Array.isArray(body.keys) ? body.keys.length : 0;
    return keys > 0 ? { ok: true, jwksUri, keys } : { ok: false, reason: `its jwks_uri ${jwksUri} holds no keys` };
  } catch (e) {
    return { ok: false, reason: `its jwks_uri ${jwksUri}: ${fetchProblem(e, timeoutMs)}` };
  }
}

function fetchProblem(e: unknown, timeoutMs: number): string {
  const f = fetchFailure(e, timeoutMs);
  // The usual cause: a provider whose certificate comes from a company CA, which the CLI machines were told to
  // trust, and the gateway's own process was not.
  return f.untrusted ? `${f.reason}; if its certificate comes from a private CA, start the gateway with NODE_EXTRA_CA_CERTS=<that CA's PEM file>` : f.reason;
}
