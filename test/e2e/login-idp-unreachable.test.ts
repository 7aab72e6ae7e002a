/**
 * `hoop login` when the gateway cannot reach its identity provider: the CLI logs in at the provider (which it can
 * reach), then the gateway, asked who that is, cannot load the provider's signing keys. The gateway here is the
 * gateway's own router and access-token verifier, given a network on which the issuer does not answer, in front
 * of a real dev identity provider; `hoop` is the real bin/hoop.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevIdp, type DevIdp } from '../../gateway/dev-idp/provider.js';
import { DEMO_CLIENTS, DEMO_USERS } from '../../gateway/dev-idp/users.js';
import { createAccessTokenVerifier } from '../../gateway/identity/verify-access-token.js';
import { bearer, Router } from '../../gateway/server/router.js';
import { createLogger } from '../../shared/log.js';
import { runHoop } from '../helpers/stack.js';

let idp: DevIdp;
let gateway: Server;
let gatewayUrl: string;
let home: string;

beforeAll(async () => {
  const logger = createLogger({ level: 'silent', format: 'text' });
  idp = await createDevIdp({ port: 0, audience: 'hoop', users: DEMO_USERS, clients: DEMO_CLIENTS, logger });
  const verify = createAccessTokenVerifier({
    issuer: idp.issuer, audience: 'hoop', groupsClaim: 'groups', usernameClaims: ['preferred_username', 'sub'], clockSkewSeconds: 30,
    allowInsecureHttp: true,
    // The gateway's network: the issuer does not answer (a firewall, a DNS failure, a proxy the gateway lacks).
    fetch: () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }) })),
  });
  const router = new Router(logger)
    .on('GET', '/.well-known/hoop', async () => ({
      body: { public_url: gatewayUrl, issuer: idp.issuer, cli_client_id: idp.cliClientId, audience: 'hoop', scopes: ['openid', 'offline_access'], grant_jwks: { keys: [] }, version: '0.1.0' },
    }))
    .on('GET', '/v1/me', async (ctx) => {
      const id = await verify(bearer(ctx.req));
      return { body: { subject: id.subject, groups: id.groups, roles: [], identity_kind: id.kind } };
    });
  gateway = createServer(router.handle);
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  home = await mkdtemp(join(tmpdir(), 'hoop-idp-unreachable-'));
});

afterAll(async () => {
  await new Promise((r) => gateway?.close(r));
  await idp?.close();
  await rm(home, { recursive: true, force: true });
});

describe('the gateway cannot reach its identity provider', () => {
  it('hoop login exits 9 (gateway or identity provider unreachable), saying so and what to do', async () => {
    const env = { HOOP_CONFIG_DIR: join(home, 'login'), HOOP_CLIENT_SECRET: idp.clientSecrets.get('ci-bot')! };
    const r = await runHoop(['login', '--client-credentials', '--client-id', 'ci-bot', '--gateway', gatewayUrl], { env });
    expect(r.code, r.stderr).toBe(9);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => !l.startsWith('warning: OS keychain unavailable'));
    expect(lines).toEqual([
      `error: the gateway at ${gatewayUrl} could not reach the identity provider, so it cannot check your login (cannot load the identity provider's signing keys from ${idp.issuer})`,
      'hint: your login is saved and need not be repeated; try again in a few minutes, and if this goes on, tell the gateway\'s operator that the '
      + `gateway cannot reach its identity provider (the gateway says: check that the gateway can reach ${idp.issuer}/.well-known/openid-configuration)`,
      '',
    ]);

    // The login was saved: once the gateway recovers, commands work without logging in again. Until then, whoami says the same.
    const who = await runHoop(['whoami', '--gateway', gatewayUrl], { env });
    expect(who.code, who.stderr).toBe(9);
    expect(who.stderr).toContain('hint: try again in a few minutes');
    expect(who.stderr).not.toContain('not logged in');
  });
});
