import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { discoverIssuer } from '../../../shared/auth/oidc.js';
import { refreshTokens, revokeTokens } from '../../../shared/auth/tokens.js';
import { HoopError } from '../../../shared/errors.js';
import { ALICE, browserLogin, startIdp, verifyAccessToken, type RunningIdp } from './fixture.js';

let env: RunningIdp;

beforeAll(async () => {
  env = await startIdp({ accessTokenTtlSeconds: 30 });
});
afterAll(async () => {
  await env.close();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(HoopError);
  return (e as HoopError).code;
}

describe('refresh and revocation', () => {
  test('the access token lives as long as the IdP was told', async () => {
    const tokens = await browserLogin(env.cli, ALICE);
    const claims = await verifyAccessToken(env.cli, tokens.access_token);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(30);
    expect(tokens.expires_at - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(30);
  });

  test('a refresh rotates the refresh token, keeps the identity, and the old refresh token is then refused', async () => {
    const first = await browserLogin(env.cli, ALICE);
    const second = await refreshTokens(env.cli, first.refresh_token ?? '');
    expect(second.refresh_token).toEqual(expect.any(String));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    const claims = await verifyAccessToken(env.cli, second.access_token);
    expect(claims.sub).toBe('alice');
    expect(claims.groups).toEqual(['engineers']);

    const reuse = refreshTokens(env.cli, first.refresh_token ?? '');
    expect(await codeOf(reuse)).toBe('login_required');
    await expect(reuse).rejects.toThrow(/invalid_grant/);
    // Reuse of a rotated refresh token is treated as theft: the whole grant, new token included, is revoked.
    expect(await codeOf(refreshTokens(env.cli, second.refresh_token ?? ''))).toBe('login_required');
  });

  test('after revocation the refresh token no longer works, and the IdP prints no notice about its policy', async () => {
    const tokens = await browserLogin(env.cli, ALICE);
    const said: unknown[][] = [];
    const info = vi.spyOn(console, 'info').mockImplementation((...a: unknown[]) => void said.push(a));
    try {
      await revokeTokens(env.cli, tokens);
    } finally {
      info.mockRestore();
    }
    expect(await codeOf(refreshTokens(env.cli, tokens.refresh_token ?? ''))).toBe('login_required');
    // oidc-provider's default revocation rule printed "oidc-provider NOTICE: … you SHOULD change it" on every
    // `hoop logout` in the demo's terminal.
    expect(said.flat().join(' ')).not.toContain('oidc-provider NOTICE');
  });

  test('revocation that cannot reach the IdP is an error, not a silent success', async () => {
    const other = await startIdp();
    const client = await discoverIssuer({ issuer: other.idp.issuer, clientId: other.idp.cliClientId, allowInsecureHttp: true });
    const tokens = await browserLogin(client, ALICE);
    await other.close();
    expect(await codeOf(revokeTokens(client, tokens))).toBe('gateway_unreachable');
  });
});
