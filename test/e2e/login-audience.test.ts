/**
 * Auth0 issues an access token for an API only when the login asks with `audience=…`. With
 * `identity.audience_param: true` the gateway tells the CLI so, and `hoop login` sends it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeBrowserLogin } from '../helpers/idp-form.js';
import { startStack, User, type Stack } from '../helpers/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ identityExtra: '  audience_param: true' });
});

afterAll(async () => {
  await stack?.close();
});

describe('identity.audience_param', () => {
  it('is published to clients, and hoop login asks the IdP for the audience', async () => {
    const wk = (await (await fetch(`${stack.gatewayUrl}/.well-known/hoop`)).json()) as { audience: string; audience_param?: boolean };
    expect(wk).toMatchObject({ audience: 'hoop', audience_param: true });
    const alice = new User('alice', stack);
    let url = '';
    let done: Promise<unknown> = Promise.resolve();
    const r = await alice.hoop(['login', '--no-browser'], {
      onStderr: (text) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\S*auth\S*)/.exec(text);
        if (m && !url) {
          url = m[1]!;
          done = completeBrowserLogin(url, { login: 'alice', password: 'alice' });
        }
      },
    });
    await done;
    expect(r.code, r.stderr).toBe(0);
    expect(new URL(url).searchParams.get('audience')).toBe('hoop');
  });
});
