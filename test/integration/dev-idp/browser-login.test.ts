import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HoopError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { completeBrowserLogin, LoginRejectedError, parseForms } from '../../helpers/idp-form.js';
import { ALICE, AUDIENCE, startBrowserLogin, startIdp, verifyAccessToken, type RunningIdp } from './fixture.js';

const idpLog: string[] = [];
let env: RunningIdp;

beforeAll(async () => {
  env = await startIdp({ logger: createLogger({ level: 'debug', write: (line) => idpLog.push(line) }) });
});
afterAll(async () => {
  await env.close();
});

/** Asserts the promise rejects with a HoopError and returns it. */
async function hoopError(p: Promise<unknown>): Promise<HoopError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(HoopError);
  return e as HoopError;
}

async function isListening(url: string): Promise<boolean> {
  return fetch(url).then(() => true, () => false);
}

describe('browser login (authorization code + PKCE) against the dev IdP', () => {
  test('alice logs in and gets a JWT access token for the gateway, with her groups, verifiable by JWKS', async () => {
    const pending = startBrowserLogin(env.cli);
    const authUrl = new URL(await pending.url);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(authUrl.searchParams.get('nonce')).toMatch(/^[\w-]{20,}$/);
    const redirectUri = authUrl.searchParams.get('redirect_uri') ?? '';
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    const callback = await completeBrowserLogin(authUrl.href, ALICE);
    expect(callback.status).toBe(200);
    expect(callback.body).toContain('You can close this tab');

    const tokens = await pending.tokens;
    const claims = await verifyAccessToken(env.cli, tokens.access_token);
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.sub).toBe('alice');
    expect(claims.groups).toEqual(['engineers']);
    expect(claims.preferred_username).toBe('alice');
    expect(String(claims.scope).split(' ')).toEqual(expect.arrayContaining(['openid', 'profile', 'offline_access']));
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(decodeJwt(tokens.id_token ?? '').nonce).toBe(authUrl.searchParams.get('nonce'));
    expect(tokens.expires_at - Math.floor(Date.now() / 1000)).toBeGreaterThan(850);
    expect(tokens.expires_at - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(900);
    // The loopback server is gone once the login is over.
    expect(await isListening(redirectUri)).toBe(false);
  });

  test('a wrong password shows the login form again with an error, and no code reaches the CLI', async () => {
    const controller = new AbortController();
    const pending = startBrowserLogin(env.cli, { signal: controller.signal });
    const authUrl = await pending.url;

    const rejected = await completeBrowserLogin(authUrl, { login: 'alice', password: 'not-alices-password' }).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(LoginRejectedError);
    const page = (rejected as LoginRejectedError).page;
    expect(page.status).toBe(400);
    expect(page.body).toContain('Invalid username or password.');
    expect(page.body).toContain('hoop dev identity provider — demo users alice/alice, bob/bob');
    const form = parseForms(page.body).find((f) => f.fields.has('password'));
    expect(form?.fields.get('login')).toBe('alice');
    expect(form?.fields.get('password')).toBe('');
    expect(page.body).not.toContain('not-alices-password');
    expect(idpLog.join('\n')).not.toContain('not-alices-password');

    // Still waiting for a callback: only the user giving up ends it.
    const outcome = await Promise.race([pending.tokens.then(() => 'tokens', () => 'failed'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    expect(outcome).toBe('waiting');
    controller.abort();
    expect((await hoopError(pending.tokens)).code).toBe('interrupted');
  });

  test('a callback with a tampered state is rejected and shown as a failed login', async () => {
    const pending = startBrowserLogin(env.cli);
    const callback = await completeBrowserLogin(await pending.url, ALICE, {
      onCallback: (url) => {
        const forged = new URL(url);
        forged.searchParams.set('state', 'forged-state');
        return forged;
      },
    });
    expect(callback.status).toBe(400);
    expect(callback.body).toContain('Login failed');
    const e = await hoopError(pending.tokens);
    expect(e.code).toBe('token_invalid');
    expect(e.message).toContain('state');
  });

  test('Cancel on the sign-in page ends the login with access_denied', async () => {
    const pending = startBrowserLogin(env.cli);
    // A browser by hand: open the authorization URL, land on the form, press Cancel, follow redirects.
    let res = await fetch(await pending.url, { redirect: 'manual' });
    const cookies = new Map<string, string>();
    let url = new URL(await pending.url);
    for (let hop = 0; hop < 10; hop++) {
      for (const c of res.headers.getSetCookie()) {
        const [pair = ''] = c.split(';');
        cookies.set(pair.slice(0, pair.indexOf('=')), pair);
      }
      const location = res.headers.get('location');
      if (location === null) break;
      url = new URL(location, url);
      if (url.origin !== env.idp.issuer) break;
      res = await fetch(url, { headers: { cookie: [...cookies.values()].join('; ') }, redirect: 'manual' });
    }
    const cancel = parseForms(await res.text()).find((f) => f.action.endsWith('/abort'));
    expect(cancel).toBeDefined();
    res = await fetch(new URL(cancel?.action ?? '', url), { method: 'POST', headers: { cookie: [...cookies.values()].join('; ') }, redirect: 'manual' });
    for (let hop = 0; hop < 10 && url.origin === env.idp.issuer; hop++) {
      url = new URL(res.headers.get('location') ?? '', url);
      res = await fetch(url, { headers: { cookie: [...cookies.values()].join('; ') }, redirect: 'manual' });
    }
    expect(url.searchParams.get('error')).toBe('access_denied');
    expect(res.status).toBe(400);
    const e = await hoopError(pending.tokens);
    expect(e.code).toBe('access_denied');
    expect(e.message).toContain('End-User aborted interaction');
  });

  test('no callback within the timeout gives login_required and closes the loopback server', async () => {
    const pending = startBrowserLogin(env.cli, { timeoutMs: 150 });
    const redirectUri = new URL(await pending.url).searchParams.get('redirect_uri') ?? '';
    const e = await hoopError(pending.tokens);
    expect(e.code).toBe('login_required');
    expect(e.hint).toContain('hoop login');
    expect(await isListening(redirectUri)).toBe(false);
  });

  test('a stale sign-in page (no interaction cookie) says the attempt expired instead of failing obscurely', async () => {
    const res = await fetch(`${env.idp.issuer}/interaction/some-old-uid`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('expired');
  });

  test('the IdP refuses an authorization request without PKCE', async () => {
    const url = new URL(env.cli.config.serverMetadata().authorization_endpoint ?? '');
    url.search = new URLSearchParams({ client_id: env.idp.cliClientId, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/callback', state: 'xyz' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location') ?? '', url);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });
});
