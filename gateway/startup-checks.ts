/**
 * What the gateway checks once it is up and only warns about: things that will make users fail later but need
 * not stop it (an identity provider that may come back; a certificate that is about to expire).
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { discoverJwksUri } from './identity/verify-access-token.js';
import { fetchFailure } from '../shared/net/fetch-failure.js';

const SOON_MS = 14 * 24 * 3600 * 1000;

/** Problems with the certificate the gateway serves, seen from its users: expiry, and the name they reach it by. */
export function certificateWarnings(certPem: string, publicUrl: string, now: Date): string[] {
  const cert = new X509Certificate(certPem);
  const out: string[] = [];
  const until = new Date(cert.validTo);
  if (until.getTime() <= now.getTime()) {
    out.push(`the certificate in tls.cert_file expired at ${until.toISOString()}: clients will refuse the gateway until it is replaced`);
  } else if (until.getTime() - now.getTime() < SOON_MS) {
    out.push(`the certificate in tls.cert_file expires at ${until.toISOString()}: replace it before then`);
  }
  if (new Date(cert.validFrom).getTime() > now.getTime()) {
    out.push(`the certificate in tls.cert_file is not valid before ${new Date(cert.validFrom).toISOString()}`);
  }
  const host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '');
  const matches = isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
  if (!matches) {
    out.push(`the certificate in tls.cert_file is not for ${host} (the host in public_url): clients that reach the gateway by that name will refuse it`);
  }
  return out;
}

/** Why the identity provider's discovery cannot be used now, or null when it can. */
export async function issuerProblem(issuer: string, timeoutMs = 5000): Promise<string | null> {
  try {
    await discoverJwksUri(issuer, fetch, timeoutMs);
    return null;
  } catch (e) {
    const f = fetchFailure(e, timeoutMs);
    // The usual cause: a provider whose certificate comes from a company CA, which the CLI machines were told to
    // trust, and the gateway's own process was not.
    return f.untrusted ? `${f.reason}; if its certificate comes from a private CA, start the gateway with NODE_EXTRA_CA_CERTS=<that CA's PEM file>` : f.reason;
  }
}
