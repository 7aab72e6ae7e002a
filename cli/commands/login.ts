/** `hoop login`, `hoop logout`, `hoop whoami`. */
import type { Command } from 'commander';
import { HoopError, isHoopError } from '../../shared/errors.js';
import { loginWithBrowser } from '../../shared/auth/browser-login.js';
import { loginWithDevice } from '../../shared/auth/device-login.js';
import { revokeTokens } from '../../shared/auth/tokens.js';
import { clientCredentials } from '../../shared/auth/client-credentials.js';
import { discoverIssuer } from '../../shared/auth/oidc.js';
import { saveLogin } from '../../shared/auth/session.js';
import { isLoopbackHttp } from '../../shared/net/loopback.js';
import type { TokenSet } from '../../shared/auth/tokens.js';
import { CREDENTIALS_FILE, type StoredLogin, type TokenStore } from '../../shared/auth/token-store.js';
import { decodeJwtClaims } from '../services/jwt.js';
import type { CliContext } from '../services/context.js';
import { clockTime } from '../ui/time.js';
import type { WellKnown } from '../../shared/api/schemas.js';
import { insecureHttpOption } from '../services/gateway-url.js';
import { checkIdentity } from '../services/identity-check.js';

export interface LoginOptions {
  gateway?: string;
  insecureHttp?: boolean;
  device?: boolean;
  browser?: boolean; // commander's --no-browser sets this to false
  clientCredentials?: boolean;
  clientId?: string;
}

/**
 * A machine login with the OAuth client-credentials grant. The client id comes from --client-id or
 * HOOP_CLIENT_ID; the secret from HOOP_CLIENT_SECRET or standard input, never from the command line. No refresh
 * token is issued: when the access token expires, log in again.
 */
async function clientCredentialsLogin(ctx: CliContext, gatewayUrl: string, opts: LoginOptions): Promise<string> {
  const clientId = opts.clientId ?? ctx.env.HOOP_CLIENT_ID;
  if (!clientId) throw new HoopError('usage', 'the client credentials login needs a client id', { hint: 'pass --client-id ID or set HOOP_CLIENT_ID' });
  let secret = ctx.env.HOOP_CLIENT_SECRET;
  if (!secret) {
    if (process.stdin.isTTY) throw new HoopError('usage', 'no client secret given', { hint: 'set HOOP_CLIENT_SECRET, or pipe the secret on standard input (never as an argument)' });
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    secret = Buffer.concat(chunks).toString('utf8').trim();
  }
  if (!secret) throw new HoopError('usage', 'the client secret is empty');
  const wk = await ctx.gateway(gatewayUrl, { auth: false }).wellKnown();
  const client = await discoverIssuer({ issuer: wk.issuer, clientId, clientSecret: secret, allowInsecureHttp: isLoopbackHttp(wk.issuer) });
  const tokens = await clientCredentials({ client, ...audienceParam(wk) });
  const store = await ctx.tokenStore();
  await saveLogin(store, gatewayUrl, { gateway_url: gatewayUrl, issuer: wk.issuer, client_id: clientId, tokens, subject: clientId, flow: 'client_credentials' }, ctx.configDir);
  return clientId;
}

/**
 * Logs out a client-credentials login. It holds only an access token, and the identity provider revokes a
 * token only for the client it was issued to, authenticated as itself (RFC 7009 §2.1): that takes the client's
 * secret. So revocation is tried only with HOOP_CLIENT_SECRET set and named, by --client-id or HOOP_CLIENT_ID,
 * for the client that made the login (a secret is never sent as another client's). Otherwise nothing is tried,
 * rather than tried as the wrong client and failed with a warning: the token is deleted here, and the user is
 * told it stays valid until it expires.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
async function logoutClient(c: CliContext, store: TokenStore, gatewayUrl: string, login: StoredLogin, namedClientId: string | undefined): Promise<void> {
  const who = login.client_id;
  const secret = c.env.HOOP_CLIENT_SECRET;
  const expiresAt = login.tokens.expires_at * 1000;
  const live = expiresAt > c.now().getTime();
  let revoked = false;
  let why = `that needs the client's secret, in HOOP_CLIENT_SECRET, and --client-id ${who}`;
  if (live && secret && namedClientId === who) {
    try {
      const client = await discoverIssuer({ issuer: login.issuer, clientId: who, clientSecret: secret, allowInsecureHttp: isLoopbackHttp(login.issuer) });
      if (client.config.serverMetadata().revocation_endpoint) {
        await revokeTokens(client, { access_token: login.tokens.access_token });
        revoked = true;
      } else {
        why = 'the identity provider offers no revocation';
      }
    } catch (e) {
      why = 'the attempt failed: see the warning';
      c.out.warn(`could not revoke the access token of ${who} at the identity provider (${(e as Error).message})`);
    }
  }
  await store.clear(gatewayUrl);
  if (revoked) {
    c.out.print(`Logged out of ${gatewayUrl}: the token of ${who} is revoked at the identity provider and deleted from this machine.`);
    return;
  }
  c.out.print(`Logged out of ${gatewayUrl}: the token of ${who} is deleted from this machine${live ? '.' : ' (it had expired).'}`);
  if (live) c.out.print(`Its access token was not revoked (${why}) and stays valid until ${clockTime(expiresAt, c.now())}.`);
}

/** Runs the interactive login and saves it. Returns the subject logged in. Also used by `hoop connect`. */
export async function login(ctx: CliContext, opts: LoginOptions): Promise<string> {
  const gatewayUrl = ctx.gatewayUrl(opts);
  const wk = await ctx.gateway(gatewayUrl, { auth: false }).wellKnown();
  const client = await ctx.oidcClient(wk.issuer, wk.cli_client_id);
  const abort = new AbortController();
  const onSigint = (): void => abort.abort(new HoopError('interrupted', 'login cancelled'));
  process.once('SIGINT', onSigint);
  let tokens: TokenSet;
  try {
    if (opts.device) {
      tokens = await loginWithDevice({
        client,
        scopes: wk.scopes,
        ...audienceParam(wk),
        signal: abort.signal,
        print: (p) => {
          ctx.out.info(`To log in, open ${p.verification_uri} on any device and enter the code:\n\n    ${p.user_code}\n`);
          if (p.verification_uri_complete) ctx.out.info(`Or open ${p.verification_uri_complete}`);
          ctx.out.info(`The code expires in ${Math.round(p.expires_in / 60)} minutes. Waiting…`);
        },
      });
    } else {
      const openBrowser = opts.browser !== false;
      tokens = await loginWithBrowser({
        client,
        scopes: wk.scopes,
        ...audienceParam(wk),
        signal: abort.signal,
        printUrl: (url) => {
          ctx.out.info(openBrowser ? 'Opening your browser to log in. If it does not open, visit:' : 'To log in, open this URL in a browser on this machine:');
          ctx.out.info(`\n    ${url}\n`);
          ctx.out.info('Waiting for the login to complete…');
        },
        openUrl: openBrowser
          ? async (url) => {
              // Loaded here: `open` and its helpers are needed only to launch a browser.
              const { default: open } = await import('open');
              await open(url).catch(() => undefined);
            }
          : () => undefined,
      });
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  const claims = decodeJwtClaims(tokens.access_token);
  const subject = typeof claims.preferred_username === 'string' ? claims.preferred_username : String(claims.sub ?? 'unknown');
  const store = await ctx.tokenStore();
  await saveLogin(store, gatewayUrl, { gateway_url: gatewayUrl, issuer: wk.issuer, client_id: wk.cli_client_id, tokens, subject }, ctx.configDir);
  if (opts.gateway) ctx.settings.setGatewayUrl(gatewayUrl);
  else if (!ctx.settings.gatewayUrl()) ctx.settings.setGatewayUrl(gatewayUrl);
  return subject;
}

/** The `audience` login parameter, when the gateway says its IdP needs one (Auth0). */
function audienceParam(wk: WellKnown): { audience?: string } {
  return wk.audience_param ? { audience: wk.audience } : {};
}

export function registerLogin(program: Command, ctx: () => CliContext): void {
  program
    .command('login')
    .description('log in to a gateway through your identity provider (browser with PKCE, or device code)')
    .option('--gateway <url>', 'the gateway URL, saved for later commands (env HOOP_GATEWAY_URL)')
    .addOption(insecureHttpOption())
    .option('--device', 'use the device-code flow: log in from another device (SSH sessions, WSL)')
    .option('--no-browser', 'do not open a browser; print the login URL only')
    .option('--client-credentials', 'log in as a machine client (OAuth client credentials); secret from HOOP_CLIENT_SECRET or stdin')
    .option('--client-id <id>', 'with --client-credentials: the client id (env HOOP_CLIENT_ID)')
    .addHelpText('after', `
The browser flow listens on a random loopback port (127.0.0.1) for the redirect. Tokens are kept in the OS
keychain, or in a 0600 file in the config dir when no keychain answers (a warning says so).

The gateway URL must be https://, or http:// to this machine (localhost, 127.x.x.x, [::1]): every command sends
your access token to it. --insecure-http (or HOOP_INSECURE_HTTP=1) accepts plain http to another host, for that
command only; the tokens then travel unencrypted.

Examples:
  hoop login --gateway https://hoop.example.com
  hoop login --device
  HOOP_CLIENT_SECRET=… hoop login --client-credentials --client-id ci-bot
  vault read -field=secret ci/hoop | hoop login --client-credentials --client-id ci-bot`)
    .action(async (opts: LoginOptions) => {
      const c = ctx();
      const gatewayUrl = c.gatewayUrl(opts);
      if (opts.clientCredentials) {
        const subject = await clientCredentialsLogin(c, gatewayUrl, opts);
        if (opts.gateway) c.settings.setGatewayUrl(gatewayUrl);
        const me = await checkIdentity(c.gateway(gatewayUrl), { gatewayUrl, justLoggedIn: true });
        c.out.print(`Logged in to ${gatewayUrl} as ${subject} (client credentials${me.groups.length ? `; groups: ${me.groups.join(', ')}` : ''}). Log in again when the token expires.`);
        return;
      }
      const subject = await login(c, opts);
      const me = await checkIdentity(c.gateway(gatewayUrl), { gatewayUrl, justLoggedIn: true });
      c.out.print(`Logged in to ${gatewayUrl} as ${subject}${me.groups.length ? ` (groups: ${me.groups.join(', ')})` : ''}.`);
    });

  program
    .command('logout')
    .description('revoke your tokens at the identity provider and delete them from this machine')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--client-id <id>', 'after --client-credentials: the client, to revoke its token with HOOP_CLIENT_SECRET (env HOOP_CLIENT_ID)')
    .addHelpText('after', `
A client credentials login has only an access token, which only the client can revoke, with its secret. With
HOOP_CLIENT_SECRET set and the client named (--client-id or HOOP_CLIENT_ID), logout revokes it; without them,
the token is deleted from this machine and stays valid until it expires (logout says when).`)
    .action(async (opts: { gateway?: string; insecureHttp?: boolean; clientId?: string }) => {
      const c = ctx();
      const gatewayUrl = c.gatewayUrl(opts);
      const store = await c.tokenStore();
      let login: Awaited<ReturnType<typeof store.load>>;
      try {
        login = await store.load(gatewayUrl);
      } catch (e) {
        if (!(isHoopError(e) && e.code === 'config_invalid')) throw e;
        // The stored login cannot be read, so it cannot be revoked either: clear it, so `hoop login` works again.
        await store.clear(gatewayUrl);
        c.out.print(`The stored login was unreadable and is cleared${store.kind === 'file' ? ` (the file is kept as ${CREDENTIALS_FILE}.unreadable)` : ''}; log in again with \`hoop login\`.`);
        return;
      }
      if (!login) {
        c.out.print(`Not logged in to ${gatewayUrl}.`);
        return;
      }
      if (login.flow === 'client_credentials') {
        await logoutClient(c, store, gatewayUrl, login, opts.clientId ?? c.env.HOOP_CLIENT_ID);
        return;
      }
      let revoked = true;
      try {
        await revokeTokens(await c.oidcClient(login.issuer, login.client_id), login.tokens);
      } catch (e) {
        revoked = false;
        c.out.warn(`could not revoke the tokens at the identity provider (${(e as Error).message}); they will expire on their own`);
      }
      await store.clear(gatewayUrl);
      c.out.print(`Logged out of ${gatewayUrl}${revoked ? '; tokens revoked' : ''}.`);
    });

  program
    .command('whoami')
    .description('show who you are logged in as, your groups and roles')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .action(async (opts: { gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const gatewayUrl = c.gatewayUrl(opts);
      const me = await checkIdentity(c.gateway(gatewayUrl), { gatewayUrl, justLoggedIn: false });
      const store = c.env.HOOP_TOKEN ? undefined : await c.tokenStore();
      const stored = store ? await store.load(gatewayUrl) : null;
      const info = {
        gateway: gatewayUrl,
        subject: me.subject,
        groups: me.groups,
        roles: me.roles,
        identity_kind: me.identity_kind,
        credential: c.env.HOOP_TOKEN ? 'HOOP_TOKEN' : store?.kind ?? 'none',
        ...(stored ? { token_expires_at: new Date(stored.tokens.expires_at * 1000).toISOString() } : {}),
      };
      if (opts.json) return c.out.json(info);
      c.out.print(`${info.subject} on ${gatewayUrl}`);
      c.out.print(`  groups:      ${me.groups.join(', ') || '(none)'}`);
      if (me.roles.length) c.out.print(`  roles:       ${me.roles.join(', ')}`);
      c.out.print(`  credential:  ${info.credential === 'file' ? 'file (0600, no keychain)' : info.credential}`);
    });
}
