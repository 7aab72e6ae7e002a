/**
 * A real OIDC issuer for tests, playing a CI provider (GitHub Actions): an HTTP server on 127.0.0.1 serving
 * `/.well-known/openid-configuration` and `/jwks`, with an RS256 key pair generated at start, minting
 * GitHub-Actions-shaped id_tokens. It counts requests so tests can see the JWKS is cached.
 *
 * @see https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#understanding-the-oidc-token
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';

export interface GitHubClaims {
  iss: string;
  aud: string;
  sub: string;
  jti: string;
  repository: string;
  repository_owner: string;
  ref: string;
  sha: string;
  workflow: string;
  job_workflow_ref: string;
  run_id: string;
  run_attempt: string;
  environment: string;
  actor: string;
  event_name: string;
  iat: number;
  nbf: number;
  exp: number;
}

export interface MintOptions {
  /** `aud`; default "hoop". */
  audience?: string;
  /** Seconds from now to `exp` (negative: already expired); default 300. */
  expiresIn?: number;
  /** Seconds from now to `nbf`; default 0. */
  notBefore?: number;
  /** Seconds from now to `iat`; default 0. */
  issuedAt?: number;
  /** `other` signs with a key this issuer does not publish (its kid is not in the JWKS). */
  key?: 'good' | 'other';
  /** `iss`; default this issuer's URL. */
  issuer?: string;
  /** The header's `typ`; default `JWT`, null for none. */
  typ?: string | null;
}

export interface CiIssuer {
  /** `http://127.0.0.1:<port>`, also the `iss` of minted tokens. */
  issuer: string;
  /** Requests served so far, by endpoint. */
  requests: { discovery: number; jwks: number };
  /**
   * A signed id_token. `claims` override the defaults (an `undefined` value removes the claim); `sub`,
   * `repository_owner` and `job_workflow_ref` follow `repository` and `ref` unless given.
   */
  mint(claims?: Partial<GitHubClaims>, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

export async function startCiIssuer(): Promise<CiIssuer> {
  const good = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const goodKid = `ci-${randomUUID().slice(0, 8)}`;
  const otherKid = `other-${randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: goodKid, alg: 'RS256', use: 'sig' };
  const requests = { discovery: 0, jwks: 0 };
  let issuer = '';

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/.well-known/openid-configuration') {
      requests.discovery++;
      send(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'workflow', 'environment'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
      });
    } else if (req.method === 'GET' && req.url === '/jwks') {
      requests.jwks++;
      send(200, { keys: [publicJwk] });
    } else {
      send(404, { error: 'not_found' });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const mint = async (claims: Partial<GitHubClaims> = {}, opts: MintOptions = {}): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const repository = 'repository' in claims ? claims.repository : 'acme/payments';
    const ref = 'ref' in claims ? claims.ref : 'refs/heads/main';
    const defaults: Partial<GitHubClaims> = {
      iss: opts.issuer ?? issuer,
      aud: opts.audience ?? 'hoop',
      sub: `repo:${repository ?? ''}:ref:${ref ?? ''}`,
      jti: randomUUID(),
      repository,
      repository_owner: repository?.split('/')[0],
      ref,
      sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      workflow: 'deploy',
      job_workflow_ref: `${repository ?? ''}/.github/workflows/deploy.yml@${ref ?? ''}`,
      run_id: '4242424242',
      run_attempt: '1',
      environment: 'production',
      actor: 'octocat',
      event_name: 'push',
      iat: now + (opts.issuedAt ?? 0),
      nbf: now + (opts.notBefore ?? 0),
      exp: now + (opts.expiresIn ?? 300),
    };
    const payload: Record<string, unknown> = {};
    for (const [k, v] of Object.entries({ ...defaults, ...claims })) if (v !== undefined) payload[k] = v;
    const [key, kid]: [CryptoKey, string] = opts.key === 'other' ? [other.privateKey, otherKid] : [good.privateKey, goodKid];
    const typ = opts.typ === undefined ? 'JWT' : opts.typ;
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, ...(typ === null ? {} : { typ }) }).sign(key);
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return { issuer, requests, mint, close };
}
