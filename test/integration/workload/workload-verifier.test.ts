/**
 * The workload verifier against a real CI issuer over HTTP: discovery, JWKS, signature, claims and allow-rules,
 * with the exact error code and message for every refusal.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { WorkloadIssuerConfig } from '../../../gateway/config/schema.js';
import { createWorkloadVerifier, type WorkloadVerifierOptions } from '../../../gateway/identity/workload.js';
import { HoopError } from '../../../shared/errors.js';
import { startCiIssuer, type CiIssuer } from '../../helpers/ci-issuer.js';

let ci: CiIssuer;
let stranger: CiIssuer;

beforeAll(async () => {
  [ci, stranger] = await Promise.all([startCiIssuer(), startCiIssuer()]);
});
afterAll(async () => {
  await Promise.all([ci.close(), stranger.close()]);
});

function entry(over: Partial<WorkloadIssuerConfig> = {}): WorkloadIssuerConfig {
  return {
    issuer: ci.issuer,
    audience: 'hoop',
    subject_claim: 'sub',
    allow: { repository: ['acme/payments'], ref: ['refs/heads/main', 'refs/heads/release/*'] },
    groups: ['ci-deployers'],
    ...over,
  };
}

function verifier(opts: Partial<WorkloadVerifierOptions> = {}) {
  return createWorkloadVerifier({ issuers: [entry()], clockSkewSeconds: 30, allowInsecureHttp: true, ...opts });
}

/** Asserts the promise rejects with a HoopError and returns it. */
async function refusal(p: Promise<unknown>): Promise<HoopError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(HoopError);
  return e as HoopError;
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

describe('a good workload token', () => {
  test('becomes a workload identity with the subject, the configured groups and the audit claims', async () => {
    const token = await ci.mint();
    const id = await verifier()(token);
    expect(id).toMatchObject({
      subject: 'repo:acme/payments:ref:refs/heads/main',
      groups: ['ci-deployers'],
      kind: 'workload',
      issuer: ci.issuer,
    });
    expect(id.claims).toMatchObject({
      iss: ci.issuer,
      sub: 'repo:acme/payments:ref:refs/heads/main',
      repository: 'acme/payments',
      repository_owner: 'acme',
      ref: 'refs/heads/main',
      workflow: 'deploy',
      run_id: '4242424242',
      run_attempt: '1',
      environment: 'production',
      actor: 'octocat',
      job_workflow_ref: 'acme/payments/.github/workflows/deploy.yml@refs/heads/main',
    });
    expect(JSON.stringify(id)).not.toContain(token.split('.')[2]);
  });

  test('subject_claim picks another claim as the subject', async () => {
    const id = await verifier({ issuers: [entry({ subject_claim: 'repository' })] })(await ci.mint());
    expect(id.subject).toBe('acme/payments');
  });

  test('a glob allows every release branch, and only those', async () => {
    const verify = verifier();
    expect((await verify(await ci.mint({ ref: 'refs/heads/release/2024.06' }))).claims.ref).toBe('refs/heads/release/2024.06');
    expect((await verify(await ci.mint({ ref: 'refs/heads/release/v2/hotfix' }))).claims.ref).toBe('refs/heads/release/v2/hotfix');
    for (const ref of ['refs/heads/release', 'refs/heads/releases/x', 'refs/tags/release/1']) {
      const e = await refusal(verify(await ci.mint({ ref })));
      expect(e.code).toBe('access_denied');
      expect(e.message).toBe(`workload ref "${ref}" is not allowed (allowed: refs/heads/main, refs/heads/release/*)`);
    }
  });

  test('the discovery document and the JWKS are fetched once for many verifications, through the injected fetch', async () => {
    const before = { ...ci.requests };
    const seen: string[] = [];
    const countingFetch: typeof fetch = (input, init) => {
      seen.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    };
    const verify = verifier({ fetch: countingFetch });
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => ci.mint({ run_id: String(i) })));
    const concurrent = await Promise.all(tokens.map((t) => verify(t)));
    expect(concurrent.map((id) => id.claims.run_id)).toEqual(tokens.map((_, i) => String(i)));
    for (let i = 0; i < 10; i++) await verify(await ci.mint());
    expect(ci.requests.discovery - before.discovery).toBe(1);
    expect(ci.requests.jwks - before.jwks).toBe(1);
    expect(seen).toEqual([`${ci.issuer}/.well-known/openid-configuration`, `${ci.issuer}/jwks`]);
  });
});

describe('token_invalid: the token itself fails verification', () => {
  test('wrong audience', async () => {
    const e = await refusal(verifier()(await ci.mint({}, { audience: 'sts.amazonaws.com' })));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe('workload token is for audience "sts.amazonaws.com", expected "hoop"');
  });

  test('no audience', async () => {
    const e = await refusal(verifier()(await ci.mint({ aud: undefined })));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe('workload token has no audience, expected "hoop"');
  });

  test('expired: 10 s ago passes with 30 s skew, fails with none; 60 s ago fails with 30 s skew', async () => {
    const expired10 = await ci.mint({}, { expiresIn: -10, issuedAt: -310, notBefore: -310 });
    expect((await verifier({ clockSkewSeconds: 30 })(expired10)).kind).toBe('workload');
    const e0 = await refusal(verifier({ clockSkewSeconds: 0 })(expired10));
    expect(e0.code).toBe('token_invalid');
    expect(e0.message).toMatch(/^workload token expired at \d{4}-\d\d-\d\dT[\d:.]+Z \(allowed clock skew 0s\)$/);

    const expired60 = await ci.mint({}, { expiresIn: -60, issuedAt: -360, notBefore: -360 });
    const e30 = await refusal(verifier({ clockSkewSeconds: 30 })(expired60));
    expect(e30.code).toBe('token_invalid');
    expect(e30.message).toMatch(/^workload token expired at .+ \(allowed clock skew 30s\)$/);
  });

  test('expired by the injected clock', async () => {
    const token = await ci.mint();
    const later = () => new Date(Date.now() + 3600_000);
    const e = await refusal(verifier({ now: later })(token));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toMatch(/^workload token expired at /);
  });

  test('not yet valid (nbf), beyond the skew but not within it', async () => {
    const verify = verifier({ clockSkewSeconds: 30 });
    const e = await refusal(verify(await ci.mint({}, { notBefore: 120 })));
    expect(e.code).toBe('token_invalid');
    const nbf = new Date((Math.floor(Date.now() / 1000) + 120) * 1000);
    expect(e.message).toMatch(/^workload token is not valid before (\S+) \(allowed clock skew 30s\)$/);
    expect(Math.abs(Date.parse(/before (\S+)/.exec(e.message)![1]!) - nbf.getTime())).toBeLessThanOrEqual(2000);
    expect((await verify(await ci.mint({}, { notBefore: 10 }))).kind).toBe('workload');
  });

  test('issued in the future (iat beyond the skew)', async () => {
    const e = await refusal(verifier()(await ci.mint({}, { issuedAt: 120 })));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toMatch(/^workload token was issued in the future \(iat .+, allowed clock skew 30s\)$/);
  });

  test('no exp claim', async () => {
    const e = await refusal(verifier()(await ci.mint({ exp: undefined })));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe('workload token has no exp claim');
  });

  test('an untrusted issuer is refused before anything is fetched from it', async () => {
    const e = await refusal(verifier()(await stranger.mint()));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe(`workload token from an untrusted issuer ${stranger.issuer}`);
    expect(stranger.requests).toEqual({ discovery: 0, jwks: 0 });
  });

  test('a trusted iss on a token signed by another issuer names the unknown key', async () => {
    const e = await refusal(verifier()(await stranger.mint({}, { issuer: ci.issuer })));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toMatch(new RegExp(`^workload token is signed with a key ${ci.issuer} does not publish \\(kid "ci-[0-9a-f]{8}"\\)$`));
  });

  test('signed with a key the issuer does not publish', async () => {
    const e = await refusal(verifier()(await ci.mint({}, { key: 'other' })));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toMatch(new RegExp(`^workload token is signed with a key ${ci.issuer} does not publish \\(kid "other-[0-9a-f]{8}"\\)$`));
  });

  test('signature bytes altered', async () => {
    const [h, p, s] = (await ci.mint()).split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    const mid = sig.length >> 1;
    sig[mid] = sig[mid]! ^ 0x01;
    const e = await refusal(verifier()(`${h}.${p}.${sig.toString('base64url')}`));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe('workload token signature is invalid');
  });

  test('claims altered after signing (repository swapped in the payload)', async () => {
    const [h, p, s] = (await ci.mint({ repository: 'evil/fork' })).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = b64url(JSON.stringify({ ...claims, repository: 'acme/payments' }));
    const e = await refusal(verifier()(`${h}.${forged}.${s}`));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe('workload token signature is invalid');
  });

  test('an unsigned token (alg none) and an HMAC token (alg confusion) are refused', async () => {
    const claims = { iss: ci.issuer, aud: 'hoop', sub: 'x', repository: 'acme/payments', ref: 'refs/heads/main', exp: Math.floor(Date.now() / 1000) + 300 };
    const none = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.`;
    const eNone = await refusal(verifier()(none));
    expect(eNone.code).toBe('token_invalid');
    expect(eNone.message).toBe('workload token is signed with an unsupported algorithm "none"');

    const jwks = (await (await fetch(`${ci.issuer}/jwks`)).json()) as { keys: [{ n: string }] };
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(jwks.keys[0].n));
    const eHs = await refusal(verifier()(hs));
    expect(eHs.code).toBe('token_invalid');
    expect(eHs.message).toBe('workload token is signed with an unsupported algorithm "HS256"');
  });

  test.each([
    ['not a JWT', 'not-a-jwt', 'workload token is malformed'],
    ['three garbage parts', 'a.b.c', 'workload token is malformed'],
    ['a JSON array payload', `${b64url('{"alg":"RS256"}')}.${b64url('[1]')}.c2ln`, 'workload token is malformed'],
    ['empty', '  \n', 'workload token is empty'],
    ['no iss', `${b64url('{"alg":"RS256"}')}.${b64url('{"sub":"x"}')}.c2ln`, 'workload token has no issuer (iss)'],
    ['far too large', `${'a'.repeat(20_000)}.b.c`, 'workload token is malformed (too large)'],
  ])('malformed: %s', async (_name, token, message) => {
    const e = await refusal(verifier()(token));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe(message);
  });

  test('an issuer whose keys cannot be loaded', async () => {
    const gone = 'http://127.0.0.1:1';
    const verify = verifier({ issuers: [entry({ issuer: gone })] });
    const e = await refusal(verify(await ci.mint({}, { issuer: gone })));
    expect(e.code).toBe('upstream_unavailable');
    expect(e.message).toBe(`cannot load the signing keys of workload issuer ${gone}`);
    expect(e.hint).toBe(`check that the gateway can reach ${gone}/.well-known/openid-configuration`);
  });
});

describe('access_denied: a valid token whose claims the allow-rules refuse', () => {
  test('disallowed repository', async () => {
    const e = await refusal(verifier()(await ci.mint({ repository: 'evil/fork' })));
    expect(e.code).toBe('access_denied');
    expect(e.message).toBe('workload repository "evil/fork" is not allowed (allowed: acme/payments)');
  });

  test('disallowed ref', async () => {
    const e = await refusal(verifier()(await ci.mint({ ref: 'refs/heads/feature-x' })));
    expect(e.code).toBe('access_denied');
    expect(e.message).toBe('workload ref "refs/heads/feature-x" is not allowed (allowed: refs/heads/main, refs/heads/release/*)');
  });

  test('a claim the rules need is missing', async () => {
    const verify = verifier({ issuers: [entry({ allow: { repository: ['acme/payments'], environment: ['production'] } })] });
    const e = await refusal(verify(await ci.mint({ environment: undefined })));
    expect(e.code).toBe('access_denied');
    expect(e.message).toBe('workload token has no environment claim (allowed: production)');
  });

  test('the subject claim is missing', async () => {
    const verify = verifier({ issuers: [entry({ subject_claim: 'job_id' })] });
    const e = await refusal(verify(await ci.mint()));
    expect(e.code).toBe('access_denied');
    expect(e.message).toBe('workload token has no job_id claim to name the workload');
  });
});

describe('several entries for one issuer', () => {
  const entries = () => [
    entry({ allow: { repository: ['acme/payments'] }, groups: ['deployers'] }),
    entry({ allow: { repository: ['acme/*'] }, groups: ['readers', 'deployers'] }),
    entry({ audience: 'hoop-staging', allow: { repository: ['*'] }, groups: ['staging'] }),
  ];

  test('the identity gets the groups of every entry the token satisfies', async () => {
    const verify = verifier({ issuers: entries() });
    expect((await verify(await ci.mint())).groups).toEqual(['deployers', 'readers']);
    expect((await verify(await ci.mint({ repository: 'acme/web' }))).groups).toEqual(['readers', 'deployers']);
    expect((await verify(await ci.mint({ repository: 'evil/fork' }, { audience: 'hoop-staging' }))).groups).toEqual(['staging']);
  });

  test('a token no entry allows says why for each', async () => {
    const e = await refusal(verifier({ issuers: entries() })(await ci.mint({ repository: 'evil/fork' })));
    expect(e.code).toBe('access_denied');
    expect(e.message).toBe(`workload token matches none of the 2 allow rules for ${ci.issuer}: `
      + 'workload repository "evil/fork" is not allowed (allowed: acme/payments); '
      + 'workload repository "evil/fork" is not allowed (allowed: acme/*)');
  });

  test('an audience no entry expects lists the expected ones', async () => {
    const e = await refusal(verifier({ issuers: entries() })(await ci.mint({}, { audience: 'other' })));
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe('workload token is for audience "other", expected "hoop" or "hoop-staging"');
  });
});

describe('configuration', () => {
  test.each([
    ['http without allowInsecureHttp', 'http://127.0.0.1:8080', false],
    ['http on a non-loopback host', 'http://ci.example.com', true],
    ['not a URL', 'token.actions.githubusercontent.com', true],
  ])('%s is refused when the verifier is created', (_name, issuer, allowInsecureHttp) => {
    const create = () => createWorkloadVerifier({ issuers: [entry({ issuer })], clockSkewSeconds: 30, allowInsecureHttp });
    expect(create).toThrow(HoopError);
    expect(create).toThrow(`identity.workload_issuers[0].issuer ${issuer} is not an https URL`);
  });
});
