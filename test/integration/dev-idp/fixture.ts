import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { createDevIdp, type DevIdp, type DevIdpOptions } from '../../../gateway/dev-idp/provider.js';
import { DEMO_CLIENTS, DEMO_USERS } from '../../../gateway/dev-idp/users.js';
import { loginWithBrowser, type BrowserLoginOptions } from '../../../shared/auth/browser-login.js';
import { discoverIssuer, type OidcClient } from '../../../shared/auth/oidc.js';
import type { TokenSet } from '../../../shared/auth/tokens.js';
import { completeBrowserLogin, type Credentials } from '../../helpers/idp-form.js';

export const SCOPES = ['openid', 'profile', 'offline_access'] as const;
export const AUDIENCE = 'hoop';
export const ALICE: Credentials = { login: 'alice', password: 'alice' };
export const BOB: Credentials = { login: 'bob', password: 'bob' };

export interface RunningIdp {
  idp: DevIdp;
  /** The CLI's public client, discovered. */
  cli: OidcClient;
  close(): Promise<void>;
}

export async function startIdp(overrides: Partial<DevIdpOptions> = {}): Promise<RunningIdp> {
  const idp = await createDevIdp({ port: 0, audience: AUDIENCE, users: DEMO_USERS, clients: DEMO_CLIENTS, ...overrides });
  const cli = await discoverIssuer({ issuer: idp.issuer, clientId: idp.cliClientId, allowInsecureHttp: true });
  return { idp, cli, close: () => idp.close() };
}

export interface PendingBrowserLogin {
  /** The authorization URL, once printed. */
  url: Promise<string>;
  tokens: Promise<TokenSet>;
}

/** Starts `loginWithBrowser` as `hoop login --no-browser` does: nothing opened, the URL only printed. */
export function startBrowserLogin(cli: OidcClient, extra: Partial<BrowserLoginOptions> = {}): PendingBrowserLogin {
  let printed: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (printed = resolve));
  const tokens = loginWithBrowser({ client: cli, scopes: SCOPES, openUrl: () => undefined, printUrl: (u) => printed(u), timeoutMs: 30_000, ...extra });
  tokens.catch(() => undefined); // each test awaits it; this only keeps an early failure from being "unhandled"
  return { url, tokens };
}

/** A complete browser login: the CLI side plus a person typing into the IdP's form. */
export async function browserLogin(cli: OidcClient, creds: Credentials): Promise<TokenSet> {
  const pending = startBrowserLogin(cli);
  await completeBrowserLogin(await pending.url, creds);
  return pending.tokens;
}

/** Verifies an access token the way the gateway will: signature by the issuer's JWKS, issuer, exact audience. */
export async function verifyAccessToken(cli: OidcClient, token: string): Promise<JWTPayload> {
  const jwksUri = cli.config.serverMetadata().jwks_uri;
  if (!jwksUri) throw new Error('the issuer publishes no jwks_uri');
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUri)), { issuer: cli.issuer, audience: AUDIENCE, typ: 'at+jwt' });
  return payload;
}
