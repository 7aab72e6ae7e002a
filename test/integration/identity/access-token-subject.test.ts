/**
 * Which name an access token gives its holder (identity.username_claims), against a real OIDC issuer on
 * 127.0.0.1 (test/helpers/ci-issuer). An email address the identity provider says it has not verified names no
 * one: anyone could have typed it, and the name owns grants, reviews and records.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenVerifier, discoverJwksUri } from '../../../gateway/identity/verify-access-token.js';
import { startCiIssuer, type CiIssuer, type GitHubClaims } from '../../helpers/ci-issuer.js';

let idp: CiIssuer;
beforeAll(async () => {
  idp = await startCiIssuer();
});
afterAll(async () => {
  await idp?.close();
});

const verifier = () => createAccessTokenVerifier({
  issuer: idp.issuer, audience: 'hoop', groupsClaim: 'groups', usernameClaims: ['email', 'sub'], clockSkewSeconds: 30, allowInsecureHttp: true,
});
const token = (claims: Record<string, unknown>): Promise<string> => idp.mint({ sub: 'account-7', ...claims } as Partial<GitHubClaims>);

describe('the subject an access token names', () => {
  it('is the email when the identity provider verified it, or does not say', async () => {
    const verify = verifier();
    expect((await verify(await token({ email: 'bob@example.com', email_verified: true }))).subject).toBe('bob@example.com');
    expect((await verify(await token({ email: 'bob@example.com' }))).subject).toBe('bob@example.com');
  });

  it('skips an email the identity provider says is not verified, for the next claim', async () => {
    const id = await verifier()(await token({ email: 'bob@example.com', email_verified: false }));
    expect(id.subject).toBe('account-7');
  });
});

describe('a token for another audience', () => {
  it('says which audience it is for and which the gateway expects, since logging in again cannot fix it', async () => {
    const t = await idp.mint({ sub: 'account-7' }, { audience: 'api://other' });
    const e = (await verifier()(t).catch((x: unknown) => x)) as { code: string; message: string; hint: string };
    expect(e).toMatchObject({ code: 'token_invalid' });
    expect(e.message).toBe('access token is for another audience: it is for "api://other", and this gateway expects "hoop"');
    expect(e.hint).toContain('identity.audience');
  });
});

describe('a verified token that is not an access token', () => {
  const refusal = async (t: string): Promise<{ code: string; message: string; hint: string }> =>
    (await verifier()(t).catch((x: unknown) => x)) as { code: string; message: string; hint: string };

  it('is refused when it is an ID token: it carries at_hash or c_hash (issuer, audience and signature all good)', async () => {
    const e = await refusal(await token({ at_hash: 'x4Q8HQNHjIRXJqGYOyc-Fg', nonce: 'n-0S6_WzA2Mj' } as Partial<GitHubClaims>));
    expect(e).toMatchObject({ code: 'token_invalid', message: 'the token is not an access token: it carries at_hash, which only ID tokens do' });
    expect(e.hint).toContain('access token');
    expect((await refusal(await token({ c_hash: 'LDktKdoQak3Pk0cnXxCltA' } as Partial<GitHubClaims>))).message).toContain('c_hash');
  });

  it('is refused when its header types it as something else (an ID token, a logout token)', async () => {
    for (const typ of ['id_token+jwt', 'logout+jwt', 'dpop+jwt']) {
      const e = await refusal(await idp.mint({ sub: 'account-7' }, { typ }));
      expect(e).toMatchObject({ code: 'token_invalid', message: `the token is not an access token: its header says its type is "${typ}"` });
    }
  });

  it('is refused when Keycloak\'s typ claim says ID or Refresh', async () => {
    for (const typ of ['ID', 'Refresh']) {
      const e = await refusal(await token({ typ } as Partial<GitHubClaims>));
      expect(e.message).toBe(`the token is not an access token: its typ claim is "${typ}"`);
    }
  });

  it('is refused when Amazon Cognito\'s token_use says id', async () => {
    const e = await refusal(await token({ token_use: 'id' } as Partial<GitHubClaims>));
    expect(e.message).toBe('the token is not an access token: its token_use claim is "id"');
    expect((await verifier()(await token({ token_use: 'access' } as Partial<GitHubClaims>))).subject).toBe('account-7');
  });

  it('is accepted when typed as an access token: at+jwt (RFC 9068), JWT, or no typ; Keycloak\'s "Bearer"', async () => {
    const verify = verifier();
    for (const typ of ['at+jwt', 'application/at+jwt', 'JWT', null]) {
      expect((await verify(await idp.mint({ sub: 'account-7' }, { typ }))).subject).toBe('account-7');
    }
    expect((await verify(await token({ typ: 'Bearer' } as Partial<GitHubClaims>))).subject).toBe('account-7');
  });
});

describe('an identity provider whose key set cannot be fetched', () => {
  it('refuses the token as the gateway\'s own network problem (upstream_unavailable), not as a bad token', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    // Discovery answers; its jwks_uri points at a port where nothing listens.
    const discoveryOnly: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const doc = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify({ ...doc, jwks_uri: `http://127.0.0.1:${port}/jwks` }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const verify = createAccessTokenVerifier({
      issuer: idp.issuer, audience: 'hoop', groupsClaim: 'groups', usernameClaims: ['sub'], clockSkewSeconds: 30, allowInsecureHttp: true, fetch: discoveryOnly,
    });
    const e = (await verify(await token({})).catch((x: unknown) => x)) as { code: string; message: string; hint: string };
    expect(e).toMatchObject({ code: 'upstream_unavailable', message: `cannot load the identity provider's signing keys from ${idp.issuer}` });
    expect(e.hint).toContain('jwks_uri');
  });
});

describe('where the keys come from', () => {
  it('fetches the key set with the fetch it was given, as it does the discovery document', async () => {
    const urls: string[] = [];
    const counting: typeof fetch = (input, init) => {
      urls.push(String(input));
      return fetch(input, init);
    };
    const verify = createAccessTokenVerifier({
      issuer: idp.issuer, audience: 'hoop', groupsClaim: 'groups', usernameClaims: ['sub'], clockSkewSeconds: 30, allowInsecureHttp: true, fetch: counting,
    });
    expect((await verify(await token({}))).subject).toBe('account-7');
    expect(urls).toEqual([`${idp.issuer}/.well-known/openid-configuration`, `${idp.issuer}/jwks`]);
  });

  it('refuses an https issuer whose discovery document puts its keys at a plain-http address', async () => {
    const doc = (jwks_uri: string): typeof fetch => async () =>
      new Response(JSON.stringify({ issuer: 'https://idp.example.com', jwks_uri }), { status: 200, headers: { 'content-type': 'application/json' } });
    await expect(discoverJwksUri('https://idp.example.com', doc('http://idp.example.com/keys')))
      .rejects.toThrow("the discovery document's jwks_uri http://idp.example.com/keys is not https, although the issuer is");
    await expect(discoverJwksUri('https://idp.example.com', doc('https://keys.example.com/jwks'))).resolves.toBe('https://keys.example.com/jwks');
  });
});
