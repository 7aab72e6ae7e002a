/**
 * `hoop login` (and `hoop whoami`) when the gateway cannot load its identity provider's signing keys. The
 * gateway's answer is made here by the gateway's own verifier, given a network that cannot reach the issuer, and
 * its own problem+json mapping: if the gateway changes how it reports this, these tests say so.
 */
import { UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { checkIdentity } from '../../../cli/services/identity-check.js';
import { createAccessTokenVerifier } from '../../../gateway/identity/verify-access-token.js';
import { GatewayClient, type FetchLike } from '../../../shared/api/client.js';
import { exitCodeFor, HoopError, toProblem } from '../../../shared/errors.js';

const GATEWAY = 'https://hoop.example.com';
const ISSUER = 'https://login.example.com';

/** What the gateway answers to GET /v1/me when its fetch of the issuer's discovery document fails. */
async function gatewayAnswerWithoutIdp(): Promise<Response> {
  const verify = createAccessTokenVerifier({
    issuer: ISSUER, audience: 'hoop', groupsClaim: 'groups', usernameClaims: ['preferred_username'], clockSkewSeconds: 30,
    allowInsecureHttp: false,
    fetch: () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }) })),
  });
  const token = new UnsecuredJWT({ sub: 'alice', aud: 'hoop' }).setIssuer(ISSUER).setExpirationTime('5m').encode();
  const e = await verify(token).then(() => null, (err: unknown) => err);
  if (!(e instanceof HoopError)) throw new Error('the verifier did not fail with a HoopError');
  const problem = toProblem(e);
  return new Response(JSON.stringify(problem), { status: problem.status, headers: { 'content-type': 'application/problem+json' } });
}

const client = (answer: () => Promise<Response>): GatewayClient =>
  new GatewayClient({ baseUrl: GATEWAY, accessToken: async () => 'a-token', fetch: (() => answer()) as FetchLike });

async function failure(api: GatewayClient, justLoggedIn: boolean): Promise<HoopError> {
  const e = await checkIdentity(api, { gatewayUrl: GATEWAY, justLoggedIn }).then(() => null, (err: unknown) => err);
  if (!(e instanceof HoopError)) throw new Error(`expected a HoopError, got ${String(e)}`);
  return e;
}

describe('checkIdentity', () => {
  it('after a login: the gateway cannot reach the identity provider is exit 9, saying so and what to do', async () => {
    const e = await failure(client(gatewayAnswerWithoutIdp), true);
    expect(e.code).toBe('gateway_unreachable');
    expect(exitCodeFor(e.code)).toBe(9);
    expect(e.message).toBe(
      `the gateway at ${GATEWAY} could not reach the identity provider, so it cannot check your login (cannot load the identity provider's signing keys from ${ISSUER})`,
    );
    expect(e.hint).toBe(
      'your login is saved and need not be repeated; try again in a few minutes, and if this goes on, tell the gateway\'s operator that the '
      + `gateway cannot reach its identity provider (the gateway says: check that the gateway can reach ${ISSUER}/.well-known/openid-configuration)`,
    );
    expect(e.details).toEqual({ upstream: 'identity_provider' });
    expect((e.cause as HoopError).code).toBe('upstream_unavailable');
  });

  it('for whoami: the same exit 9, without claiming a login was just saved', async () => {
    const e = await failure(client(gatewayAnswerWithoutIdp), false);
    expect(exitCodeFor(e.code)).toBe(9);
    expect(e.hint).toMatch(/^try again in a few minutes/);
  });

  it('any other refusal passes through as the gateway sent it', async () => {
    const refused = new HoopError('token_invalid', 'access token expired', { hint: 'run `hoop login` again' });
    const e = await failure(client(async () => new Response(JSON.stringify(toProblem(refused)), { status: 401 })), true);
    expect(e.code).toBe('token_invalid');
    expect(e.message).toBe('access token expired');
    expect(exitCodeFor(e.code)).toBe(3);
  });

  it('returns who the gateway says the caller is', async () => {
    const me = { subject: 'alice', groups: ['engineers'], roles: [], identity_kind: 'user' };
    expect(await checkIdentity(client(async () => new Response(JSON.stringify(me))), { gatewayUrl: GATEWAY, justLoggedIn: true })).toEqual(me);
  });
});
