/**
 * The gateway's start-up warnings: a served certificate that has expired, is about to, or is not for the host
 * in public_url; and an identity provider that cannot be used (down, or naming another issuer).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { certificateWarnings, issuerProblem } from '../../gateway/startup-checks.js';

/** The test setup's certificate: for 127.0.0.1 and localhost, valid for two days. */
const CERT = readFileSync(inject('tlsCertFile'), 'utf8');
const x509 = new X509Certificate(CERT);
const DAY = 24 * 3600 * 1000;

describe('certificateWarnings', () => {
  it('a certificate for the public_url host, in its validity: only that it expires within 14 days', () => {
    const now = new Date(Date.parse(x509.validFrom) + 60_000);
    for (const url of ['https://127.0.0.1:8443', 'https://localhost']) {
      expect(certificateWarnings(CERT, url, now)).toEqual([`the certificate in tls.cert_file expires at ${new Date(x509.validTo).toISOString()}: replace it before then`]);
    }
  });

  it('says when it has expired, is not valid yet, or is for another host', () => {
    expect(certificateWarnings(CERT, 'https://127.0.0.1', new Date(Date.parse(x509.validTo) + DAY))).toEqual([
      `the certificate in tls.cert_file expired at ${new Date(x509.validTo).toISOString()}: clients will refuse the gateway until it is replaced`,
    ]);
    expect(certificateWarnings(CERT, 'https://127.0.0.1', new Date(Date.parse(x509.validFrom) - DAY))).toContain(
      `the certificate in tls.cert_file is not valid before ${new Date(x509.validFrom).toISOString()}`,
    );
    expect(certificateWarnings(CERT, 'https://hoop.example.com', new Date(Date.parse(x509.validFrom) + 60_000))).toContain(
      'the certificate in tls.cert_file is not for hoop.example.com (the host in public_url): clients that reach the gateway by that name will refuse it',
    );
  });
});

describe('issuerProblem', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });
  async function idp(issuerFor: (base: string) => string): Promise<string> {
    let base = '';
    const s = createServer((req, res) => {
      if (req.url !== '/.well-known/openid-configuration') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: issuerFor(base), jwks_uri: `${base}/jwks` }));
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    return base;
  }

  it('none for a provider whose discovery names it', async () => {
    const base = await idp((b) => b);
    expect(await issuerProblem(base)).toBeNull();
  });

  it('names a provider that names another issuer (a trailing slash is enough to refuse every token)', async () => {
    const base = await idp((b) => `${b}/`);
    expect(await issuerProblem(base)).toBe(`the discovery document names the issuer "${base}/", not "${base}": tokens will be refused until identity.issuer says exactly "${base}/"`);
  });

  it('says how to trust a provider whose certificate this process does not trust', async () => {
    const s = createHttpsServer({ cert: CERT, key: readFileSync(inject('tlsKeyFile'), 'utf8') }, (_req, res) => void res.writeHead(404).end());
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const why = await issuerProblem(`https://127.0.0.1:${(s.address() as AddressInfo).port}`);
    expect(why).toMatch(/^TLS certificate not trusted \(\w+\); if its certificate comes from a private CA, start the gateway with NODE_EXTRA_CA_CERTS=<that CA's PEM file>$/);
  });

  it('names a provider that cannot be reached', async () => {
    const base = await idp((b) => b);
    await new Promise((r) => servers.pop()!.close(r));
    expect(await issuerProblem(base)).toBe('connection refused');
  });
});
