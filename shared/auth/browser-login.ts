import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { HoopError } from '../errors.js';
import { oauthError } from './oauth-errors.js';
import type { OidcClient } from './oidc.js';
import { toTokenSet, type TokenSet } from './tokens.js';

export interface BrowserLoginOptions {
  client: OidcClient;
  scopes: readonly string[];
  /** RFC 8707 resource indicator, sent on the authorization and token requests. */
  resource?: string;
  /** For issuers that take a non-standard `audience` parameter instead (Auth0). */
  audience?: string;
  /** Opens the system browser; pass a no-op for `--no-browser`. A failure here is not fatal: the URL is printed. */
  openUrl: (url: string) => Promise<void> | void;
  printUrl: (url: string) => void;
  signal?: AbortSignal;
  /** Default 5 minutes. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const HOST = '127.0.0.1';

/**
 * Logs in with the authorization code flow and PKCE (S256), receiving the code on a loopback server at
 * `http://127.0.0.1:<random port>/callback`. `state` and `nonce` are fresh per attempt and checked; the server
 * is closed on every path.
 * @see https://www.rfc-editor.org/rfc/rfc8252 (OAuth for native apps)
 * @see https://www.rfc-editor.org/rfc/rfc7636 (PKCE)
 */
export async function loginWithBrowser(options: BrowserLoginOptions): Promise<TokenSet> {
  const { client, signal } = options;
  if (signal?.aborted) throw new HoopError('interrupted', 'login cancelled', { cause: signal.reason });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const wantsIdToken = options.scopes.includes('openid');
  const server = createServer();
  const redirectUri = `http://${HOST}:${await listen(server)}/callback`;

  let settle: { resolve: (t: TokenSet) => void; reject: (e: unknown) => void } | undefined;
  const result = new Promise<TokenSet>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // It may settle (timeout, abort) while openUrl is still running; it is awaited below.
  result.catch(() => undefined);
  let received = false;

  const exchange = async (url: URL): Promise<TokenSet> => {
    // Checked here before anything else, so a forged callback (even one saying error=access_denied) is named as such.
    if (url.searchParams.get('state') !== state) {
      throw new HoopError('token_invalid', 'the login callback did not carry this login attempt\'s state, so it was rejected', {
        hint: 'run hoop login again; if this repeats, something else on this machine is calling the callback',
      });
    }
    try {
      const checks: oidc.AuthorizationCodeGrantChecks = { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: wantsIdToken };
      if (wantsIdToken) checks.expectedNonce = nonce;
      const response = await oidc.authorizationCodeGrant(client.config, url, checks, options.resource ? { resource: options.resource } : undefined);
      return toTokenSet(client, response);
    } catch (e) {
      throw oauthError('completing the browser login', e, client.issuer);
    }
  };

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', redirectUri);
    if (req.method !== 'GET' || url.pathname !== '/callback') {
      page(res, 404, 'Not found', 'This address only receives the hoop login callback.');
      return;
    }
    if (received) {
      page(res, 409, 'Already done', 'This login has already finished. Return to your terminal.');
      return;
    }
    received = true;
    exchange(url).then(
      (tokens) => page(res, 200, 'Logged in', 'You can close this tab and return to your terminal.', () => settle?.resolve(tokens)),
      (e: unknown) => {
        const message = e instanceof Error ? e.message : 'the login failed';
        page(res, 400, 'Login failed', `${message}. Return to your terminal.`, () => settle?.reject(e));
      },
    );
  });

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => settle?.reject(new HoopError('login_required', `no login arrived from the browser within ${Math.round(timeoutMs / 1000)} s`, {
    hint: 'run hoop login again, or hoop login --device on a machine without a browser',
  })), timeoutMs);
  const onAbort = () => settle?.reject(new HoopError('interrupted', 'login cancelled', { cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: options.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    };
    if (wantsIdToken) params.nonce = nonce;
    if (options.resource) params.resource = options.resource;
    if (options.audience) params.audience = options.audience;
    const url = oidc.buildAuthorizationUrl(client.config, params).href;
    options.printUrl(url);
    try {
      await options.openUrl(url);
    } catch {
      // No browser could be started (headless, SSH): the URL is printed, and the user can open it by hand.
    }
    return await result;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    await close(server);
  }
}

function page(res: ServerResponse, status: number, title: string, message: string, done?: () => void): void {
  const body = `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>hoop: ${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>\n`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    Connection: 'close',
  });
  res.end(body, done);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new HoopError('internal', 'could not open a loopback port for the login callback', { cause: e })));
    server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
