import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clientCredentials } from '../../../shared/auth/client-credentials.js';
import { loginWithDevice, type DeviceCodePrompt } from '../../../shared/auth/device-login.js';
import { discoverIssuer } from '../../../shared/auth/oidc.js';
import { HoopError } from '../../../shared/errors.js';
import { completeDeviceLogin } from '../../helpers/idp-form.js';
import { AUDIENCE, BOB, SCOPES, startIdp, verifyAccessToken, type RunningIdp } from './fixture.js';

let env: RunningIdp;

beforeAll(async () => {
  env = await startIdp();
});
afterAll(async () => {
  await env.close();
});

describe('device authorization grant', () => {
  test('bob logs in on another device with the printed code and gets his groups', async () => {
    let shown: (p: DeviceCodePrompt) => void = () => undefined;
    const prompt = new Promise<DeviceCodePrompt>((resolve) => (shown = resolve));
    const login = loginWithDevice({ client: env.cli, scopes: SCOPES, print: (p) => shown(p) });

    const info = await prompt;
    expect(info.verification_uri).toBe(`${env.idp.issuer}/device`);
    expect(info.user_code).toMatch(/^[A-Z]{4}-?[A-Z]{4}$/);
    expect(info.expires_in).toBeGreaterThan(0);
    const success = await completeDeviceLogin(info.verification_uri, info.user_code, BOB);
    expect(success.body).toContain('You are signed in');

    const tokens = await login;
    const claims = await verifyAccessToken(env.cli, tokens.access_token);
    expect(claims.sub).toBe('bob');
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.groups).toEqual(['dba', 'admins', 'auditors']);
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  test('a wrong user code is refused on the device page', async () => {
    const controller = new AbortController();
    let shown: (p: DeviceCodePrompt) => void = () => undefined;
    const prompt = new Promise<DeviceCodePrompt>((resolve) => (shown = resolve));
    const login = loginWithDevice({ client: env.cli, scopes: SCOPES, print: (p) => shown(p), signal: controller.signal });
    const info = await prompt;
    await expect(completeDeviceLogin(info.verification_uri, 'BCDF-GHJK', BOB)).rejects.toThrow(/not valid/);
    controller.abort();
    await expect(login).rejects.toMatchObject({ code: 'interrupted' });
  });
});

describe('an identity provider that goes away mid-login', () => {
  // The CLI prints these as `error: <message>`: each must be a whole sentence saying what was being done.
  test('the device login says it could not reach the IdP while completing the login', async () => {
    const other = await startIdp();
    let shown: (p: DeviceCodePrompt) => void = () => undefined;
    const prompt = new Promise<DeviceCodePrompt>((resolve) => (shown = resolve));
    const login = loginWithDevice({ client: other.cli, scopes: SCOPES, print: (p) => shown(p) });
    login.catch(() => undefined);
    await prompt;
    await other.close(); // the next poll of the token endpoint finds nobody there
    const e = await login.then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(HoopError);
    expect((e as HoopError).code).toBe('gateway_unreachable');
    expect((e as HoopError).message).toBe(`could not reach the identity provider at ${other.idp.issuer} while completing the device login`);
  });

  test('the client credentials grant says it could not reach the IdP while getting the token', async () => {
    const other = await startIdp();
    const bot = await discoverIssuer({ issuer: other.idp.issuer, clientId: 'ci-bot', clientSecret: other.idp.clientSecrets.get('ci-bot'), allowInsecureHttp: true });
    await other.close();
    const e = await clientCredentials({ client: bot }).then(() => undefined, (err: unknown) => err);
    expect((e as HoopError).code).toBe('gateway_unreachable');
    expect((e as HoopError).message).toBe(`could not reach the identity provider at ${other.idp.issuer} while getting a token with the client credentials`);
  });
});

describe('client credentials', () => {
  test('ci-bot gets a token for the gateway whose subject is the client and whose groups are [ci-deployers]', async () => {
    const bot = await discoverIssuer({ issuer: env.idp.issuer, clientId: 'ci-bot', clientSecret: env.idp.clientSecrets.get('ci-bot'), allowInsecureHttp: true });
    const tokens = await clientCredentials({ client: bot });
    expect(tokens.refresh_token).toBeUndefined();
    const claims = await verifyAccessToken(env.cli, tokens.access_token);
    expect(claims.sub).toBe('ci-bot');
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.groups).toEqual(['ci-deployers']);
  });

  test('a wrong client secret is refused as a configuration problem, without echoing the secret', async () => {
    const bot = await discoverIssuer({ issuer: env.idp.issuer, clientId: 'ci-bot', clientSecret: 'wrong-secret-123', allowInsecureHttp: true });
    const e = await clientCredentials({ client: bot }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(HoopError);
    expect((e as HoopError).code).toBe('config_invalid');
    expect((e as HoopError).message).toContain('invalid_client');
    expect((e as HoopError).message).not.toContain('wrong-secret-123');
  });
});

describe('discovery', () => {
  test('an http: issuer is refused unless insecure http is allowed', async () => {
    await expect(discoverIssuer({ issuer: env.idp.issuer, clientId: 'hoop-cli', allowInsecureHttp: false })).rejects.toMatchObject({ code: 'config_invalid' });
  });

  test('an unreachable issuer is reported as unreachable', async () => {
    await expect(discoverIssuer({ issuer: 'http://127.0.0.1:9', clientId: 'hoop-cli', allowInsecureHttp: true })).rejects.toMatchObject({ code: 'gateway_unreachable' });
  });
});
