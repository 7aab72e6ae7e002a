import { generateKeyPair, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { Account, errors as OidcErrors, IssuedToken, KoaContext, ResourceServerInfo } from 'oidc-provider';
import { loadOidcProvider } from './load-provider.js';
import { HoopError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { createInteractionRoutes } from './interactions.js';
import { createMemoryAdapter } from './memory-adapter.js';
import { clientMetadata, DEMO_CLIENTS, userClaims, type DevClient, type DevUser } from './users.js';
import { deviceConfirmPage, deviceInputPage, deviceSuccessPage, errorPage } from './views.js';

export interface DevIdpOptions {
  /** Loopback only; default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The exact `aud` of every access token, e.g. "hoop". */
  audience: string;
  /** The resource indicator (RFC 8707) the tokens are for; default `urn:hoop:<audience>` unless the audience is a URL. */
  resource?: string;
  users: readonly DevUser[];
  clients?: readonly DevClient[];
  /** Default 900 (15 minutes). */
  accessTokenTtlSeconds?: number;
  logger?: Logger;
}

export interface DevIdp {
  /** `http://<host>:<port>`, no trailing slash. */
  readonly issuer: string;
  readonly port: number;
  readonly audience: string;
  readonly resource: string;
  /** The first native client: what `hoop login` uses. */
  readonly cliClientId: string;
  /** The effective secret of each service client (passed in, or generated). */
  readonly clientSecrets: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

const SCOPES = 'openid profile offline_access';
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Starts a real OpenID provider in-process for `hoop demo` and the tests: auth code + PKCE, device flow, client
 * credentials, refresh with rotation, revocation, RS256 JWT access tokens whose `aud` is `options.audience`.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/docs/README.md
 */
export async function createDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) {
    throw new HoopError('usage', `the dev identity provider listens on loopback only, not ${host}`, { hint: 'use host 127.0.0.1' });
  }
  const logger = options.logger ?? silentLogger;
  const clients = options.clients ?? DEMO_CLIENTS;
  const cli = clients.find((c) => c.kind === 'native');
  if (!cli) throw new HoopError('usage', 'the dev identity provider needs a native client for the CLI');
  const secrets = new Map<string, string>();
  for (const c of clients) {
    if (c.kind === 'service') secrets.set(c.clientId, c.clientSecret ?? randomBytes(24).toString('base64url'));
  }

  let handler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  const server = createServer((req, res) => {
    if (!handler) {
      res.writeHead(503).end();
      return;
    }
    handler(req, res).catch((e: unknown) => {
      logger.error('dev idp: request failed', { err: e });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const port = await listen(server, host, options.port);
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const resource = options.resource ?? (isUrl(options.audience) ? options.audience : `urn:hoop:${options.audience}`);

  try {
    // Imported here, not at the top: oidc-provider loads slowly, and only the dev IdP needs it.
    const { default: Provider, errors: oidcErrors } = await loadOidcProvider();
    const provider = new Provider(issuer, await configuration({ ...options, resource, clients, secrets }, oidcErrors));
    provider.on('server_error', (_ctx, err) => logger.error('dev idp: server error', { err }));
    for (const event of ['authorization.error', 'grant.error', 'revocation.error', 'code_verification.error']) {
      provider.on(event, (_ctx, err) => logger.debug(`dev idp: ${event}`, { error: err.error ?? err.name, description: err.error_description }));
    }
    provider.use(offlineAccessWithoutPrompt);
    const interactions = createInteractionRoutes({ provider, users: options.users, logger });
    const oidc = provider.callback();
    handler = async (req, res) => {
      if (!(await interactions(req, res))) await oidc(req, res);
    };
  } catch (e) {
    await closeServer(server);
    throw new HoopError('internal', 'could not configure the dev identity provider', { cause: e });
  }
  logger.info('dev idp: listening', { issuer });

  let closing: Promise<void> | undefined;
  return {
    issuer,
    port,
    audience: options.audience,
    resource,
    cliClientId: cli.clientId,
    clientSecrets: secrets,
    close: () => (closing ??= closeServer(server)),
  };
}

type ConfigInput = DevIdpOptions & { resource: string; clients: readonly DevClient[]; secrets: ReadonlyMap<string, string> };

async function configuration(o: ConfigInput, { InvalidTarget, InvalidRequest }: typeof OidcErrors): Promise<Record<string, unknown>> {
  const ttl = o.accessTokenTtlSeconds ?? 900;
  const users = new Map(o.users.map((u) => [u.username, u]));
  const services = new Map(o.clients.flatMap((c) => (c.kind === 'service' ? [[c.clientId, c] as const] : [])));
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
  const resourceServer: ResourceServerInfo = {
    audience: o.audience,
    scope: SCOPES,
    accessTokenFormat: 'jwt',
    accessTokenTTL: ttl,
    jwt: { sign: { alg: 'RS256' } },
  };

  return {
    adapter: createMemoryAdapter(),
    clients: clientMetadata(o.clients, o.secrets),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'groups'] },
    scopes: SCOPES.split(' '),
    pkce: { required: () => true },
    interactions: { url: (_ctx: KoaContext, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    // Public clients rotate by default; rotate every refresh so a stolen refresh token is single-use everywhere.
    rotateRefreshToken: true,
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 600,
      Session: 86_400,
      Grant: 14 * 86_400,
      RefreshToken: 14 * 86_400,
    },
    async findAccount(_ctx: KoaContext, sub: string): Promise<Account | undefined> {
      const user = users.get(sub);
      return user && { accountId: user.username, claims: () => ({ sub: user.username, ...userClaims(user) }) };
    },
    async extraTokenClaims(_ctx: KoaContext, token: IssuedToken): Promise<Record<string, unknown> | undefined> {
      const user = token.accountId === undefined ? undefined : users.get(token.accountId);
      if (user) return userClaims(user);
      const service = token.clientId === undefined ? undefined : services.get(token.clientId);
      return service && { groups: [...service.groups] };
    },
    async renderError(ctx: KoaContext, out: { error?: string; error_description?: string }) {
      ctx.type = 'html';
      ctx.body = errorPage('Sign-in failed', out.error_description ?? out.error ?? 'The request could not be completed.');
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        // A client revokes only its own tokens (oidc-provider's default rule, stated here so that it does not
        // print a notice on every `hoop logout`). A public client is told nothing, as RFC 7009 allows.
        allowedPolicy(_ctx: KoaContext, client: { clientId: string; clientAuthMethod?: string }, token: { clientId?: string }): boolean {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      deviceFlow: {
        enabled: true,
        async userCodeInputSource(ctx: KoaContext, form: string, _out: unknown, err?: Error & { userCode?: string }) {
          ctx.type = 'html';
          ctx.body = deviceInputPage(form, err ? deviceError(err) : undefined);
        },
        async userCodeConfirmSource(ctx: KoaContext, form: string, client: { clientId: string; clientName?: string }, _info: unknown, userCode: string) {
          ctx.type = 'html';
          ctx.body = deviceConfirmPage(form, client.clientName ?? client.clientId, userCode);
        },
        async successSource(ctx: KoaContext) {
          ctx.type = 'html';
          const client = ctx.oidc.client;
          ctx.body = deviceSuccessPage(client?.clientName ?? client?.clientId ?? 'the application');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => o.resource,
        // Without this, a token request that does not repeat `resource` gets an opaque userinfo-only token.
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: KoaContext, indicator: string): ResourceServerInfo => {
          if (indicator !== o.resource) throw new InvalidTarget(`unknown resource; this IdP serves ${o.resource}`);
          return resourceServer;
        },
      },
    },
  };
}

/**
 * OpenID Connect Core §11 drops `offline_access` unless the request says `prompt=consent`, and oidc-provider
 * follows it. Okta, Auth0 and Keycloak issue refresh tokens without it, so the CLI does not send it; the dev IdP
 * (whose consent is automatic anyway) adds it to behave like them.
 */
async function offlineAccessWithoutPrompt(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
  if (ctx.method === 'GET' && ctx.path === '/auth') {
    const query = new URLSearchParams(ctx.querystring);
    if (query.get('scope')?.split(' ').includes('offline_access') && !query.has('prompt')) {
      query.set('prompt', 'consent');
      ctx.querystring = query.toString();
    }
  }
  await next();
}

function deviceError(err: Error & { userCode?: string }): string {
  if (err.userCode !== undefined || err.name === 'NoCodeError' || err.name === 'NotFoundError') return 'That code is not valid. Check it and try again.';
  if (err.name === 'ExpiredError') return 'That code has expired. Start again from your terminal.';
  if (err.name === 'AlreadyUsedError') return 'That code was already used. Start again from your terminal.';
  if (err.name === 'AbortedError') return 'The sign-in was aborted.';
  return 'The request could not be processed. Try again.';
}

function isUrl(s: string): boolean {
  return URL.canParse(s) && /^[a-z][a-z0-9+.-]*:/i.test(s);
}

/** Binds the dev IdP's address; a busy or forbidden port is a configuration problem, as for the gateway's. */
function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const inUse = e.code === 'EADDRINUSE';
      reject(new HoopError('config_invalid', `the dev identity provider cannot listen on ${host}:${port}: ${inUse ? 'the address is in use' : e.message}`, {
        cause: e,
        hint: inUse ? 'stop the other process, or give the dev identity provider another port' : undefined,
      }));
    });
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((e) => (e && (e as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING' ? reject(e) : resolve()));
    server.closeAllConnections();
  });
}
