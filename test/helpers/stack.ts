/**
 * A whole hoop stack for end-to-end tests, all real: the dev IdP (oidc-provider), a gateway (started
 * in-process with startGateway, exactly as `hoop gateway start` does), its state and a `shop` target database
 * on the run's embedded PostgreSQL, and the real `bin/hoop` run as a subprocess with its own config dir per user.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createLogger } from '../../shared/log.js';
import { GatewayClient } from '../../shared/api/client.js';
import { loadGatewayConfig } from '../../gateway/config/load.js';
import { startGateway, type RunningGateway } from '../../gateway/gateway.js';
import { createDevIdp, type DevIdp } from '../../gateway/dev-idp/provider.js';
import { DEMO_CLIENTS, DEMO_USERS, type DevUser } from '../../gateway/dev-idp/users.js';
import { seedShop } from '../../gateway/demo/shop-data.js';
import { databaseUrl } from '../../gateway/store/db.js';
import { completeBrowserLogin } from './idp-form.js';
import { freshDatabase, pgAdminUrl, type FreshDatabase } from './pg.js';

export const HOOP_BIN = fileURLToPath(new URL('../../bin/hoop', import.meta.url));

export interface StackOptions {
  /** Extra YAML appended under the shop connection (indented 4 spaces), e.g. guardrails. */
  shopExtra?: string;
  /** Extra connections (YAML list items, indented 2 spaces). */
  extraConnections?: string;
  accessTokenTtlSeconds?: number;
  grantCheckIntervalMs?: number;
  grants?: { default_ttl?: string; max_ttl?: string };
  /** Extra top-level gateway YAML, e.g. an audit: section. */
  topExtra?: string;
  /** More IdP users besides alice and bob. */
  extraUsers?: DevUser[];
  /** Extra YAML under `identity:` (indented 2 spaces), e.g. workload_issuers. */
  identityExtra?: string;
  /** Serve HTTPS/WSS with this certificate and key (PEM files). */
  tls?: { cert_file: string; key_file: string };
}

export interface Stack {
  gatewayUrl: string;
  idp: DevIdp;
  gateway: RunningGateway;
  /** Superuser URL of the shop database (for checking what reached the target). */
  shopAdminUrl: string;
  stateUrl: string;
  /** The target role hoop logs in as. */
  shopRole: string;
  tmp: string;
  /**
   * Starts another gateway instance on the same state database and data dir (master key), as instances sharing
   * a database must; it is closed with the stack.
   */
  startInstance(): Promise<RunningGateway>;
  close(): Promise<void>;
}

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const tmp = await mkdtemp(join(tmpdir(), 'hoop-e2e-'));
  const state: FreshDatabase = await freshDatabase('e2e_state');
  const shop: FreshDatabase = await freshDatabase('e2e_shop');
  const shopRole = `hoop_rw_${randomBytes(4).toString('hex')}`;
  const shopPassword = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: pgAdminUrl() });
  await admin.connect();
  try {
    await admin.query(`SET password_encryption = 'scram-sha-256'`);
    await admin.query(`CREATE ROLE ${shopRole} LOGIN PASSWORD ${pg.escapeLiteral(shopPassword)}`);
    await admin.query(`ALTER DATABASE ${shop.name} OWNER TO ${shopRole}`);
  } finally {
    await admin.end();
  }
  const shopAsRole = new pg.Client({ connectionString: withUser(shop.url, shopRole, shopPassword) });
  await shopAsRole.connect();
  await seedShop(shopAsRole, 50);
  await shopAsRole.end();

  const logger = createLogger({ level: process.env.HOOP_TEST_LOG === '1' ? 'debug' : 'silent', format: 'text' });
  const idp = await createDevIdp({
    port: 0, audience: 'hoop', users: [...DEMO_USERS, ...(o.extraUsers ?? [])], clients: DEMO_CLIENTS, logger,
    ...(o.accessTokenTtlSeconds ? { accessTokenTtlSeconds: o.accessTokenTtlSeconds } : {}),
  });
  const pgPort = new URL(shop.url).port;
  const yaml = `
listen: 127.0.0.1:0
data_dir: ${JSON.stringify(join(tmp, 'gateway'))}
${o.tls ? `tls: { cert_file: ${JSON.stringify(o.tls.cert_file)}, key_file: ${JSON.stringify(o.tls.key_file)} }` : ''}
identity:
  issuer: ${idp.issuer}
  audience: hoop
  allow_insecure_http: true
${o.identityExtra ?? ''}
roles: { admins: [admins], auditors: [auditors] }
${o.topExtra ?? ''}
grants: { default_ttl: ${o.grants?.default_ttl ?? '1h'}, max_ttl: ${o.grants?.max_ttl ?? '8h'} }
connections:
  - name: shop
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: ${shop.name}
    user: ${shopRole}
    password: \${env:SHOP_PW}
    tls: { mode: disable }
    access: { groups: [engineers, dba, ci-deployers], max_duration: 8h }
${o.shopExtra ?? ''}
  - name: billing
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: ${shop.name}
    user: ${shopRole}
    password: \${env:SHOP_PW}
    tls: { mode: disable }
    access: { groups: [dba] }
${o.extraConnections ?? ''}`;
  const config = loadGatewayConfig({
    yamlText: yaml,
    // extra connections can point at the same shop database through these
    env: { SHOP_PW: shopPassword, SHOP_PORT: pgPort, SHOP_DB: shop.name, SHOP_USER: shopRole },
    overrides: { database_url: state.url },
  });
  const start = (): Promise<RunningGateway> => startGateway({ config, logger, env: {}, ...(o.grantCheckIntervalMs ? { grantCheckIntervalMs: o.grantCheckIntervalMs } : {}) });
  const gateway = await start();
  const others: RunningGateway[] = [];
  return {
    gatewayUrl: gateway.url,
    idp,
    gateway,
    shopAdminUrl: shop.url,
    stateUrl: state.url,
    shopRole,
    tmp,
    startInstance: async () => {
      const g = await start();
      others.push(g);
      return g;
    },
    close: async () => {
      for (const g of others) await g.close();
      await gateway.close();
      await idp.close();
      await state.drop().catch(() => undefined);
      await shop.drop().catch(() => undefined);
      const c = new pg.Client({ connectionString: pgAdminUrl() });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS ${shopRole}`).catch(() => undefined);
      await c.end();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

function withUser(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  /** Called with each stderr chunk as it arrives (e.g. to catch the login URL). */
  onStderr?: (text: string) => void;
  timeoutMs?: number;
}

/** Runs `bin/hoop` as a user would, with no TTY. */
export function runHoop(args: string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOOP_BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      o.onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(o.input ?? '');
  });
}

/** One person at one machine: their own config dir (settings, token file, agent socket). */
export class User {
  readonly env: Record<string, string>;
  constructor(readonly name: string, readonly stack: Stack) {
    this.env = { HOOP_CONFIG_DIR: join(stack.tmp, `home-${name}-${randomBytes(3).toString('hex')}`), HOOP_GATEWAY_URL: stack.gatewayUrl };
  }

  hoop(args: string[], o: Omit<RunOptions, 'env'> & { env?: Record<string, string | undefined> } = {}): Promise<RunResult> {
    return runHoop(args, { ...o, env: { ...this.env, ...o.env } });
  }

  /** `hoop login --no-browser`, with the printed URL completed through the IdP's real HTML form. */
  async login(password = this.name): Promise<RunResult> {
    let started = false;
    let loginDone: Promise<unknown> = Promise.resolve();
    const result = await this.hoop(['login', '--no-browser'], {
      onStderr: (text) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\S*auth\S*)/.exec(text);
        if (m && !started) {
          started = true;
          loginDone = completeBrowserLogin(m[1]!, { login: this.name, password });
        }
      },
    });
    await loginDone;
    return result;
  }

  /** `hoop connect <conn> --detach --port 0 --json`; returns the local port. */
  async connect(connection: string, extra: string[] = []): Promise<{ port: number; grantId: string; result: RunResult }> {
    const result = await this.hoop(['connect', connection, '--detach', '--port', '0', '--json', ...extra]);
    if (result.code !== 0) throw new Error(`hoop connect failed (${result.code}): ${result.stderr}`);
    const t = JSON.parse(result.stdout) as { port: number; grant_id: string };
    return { port: t.port, grantId: t.grant_id, result };
  }

  /** The stored IdP access token (these machines have no keychain, so it is in the 0600 file). */
  async accessToken(): Promise<string> {
    const stored = JSON.parse(await readFile(join(this.env.HOOP_CONFIG_DIR!, 'credentials.json'), 'utf8')) as unknown;
    const found = /"access_token":"([^"]+)"/.exec(JSON.stringify(stored));
    if (!found) throw new Error(`no stored access token for ${this.name}`);
    return found[1]!;
  }

  /** The gateway API as this user (their stored access token). */
  async api(gatewayUrl = this.stack.gatewayUrl): Promise<GatewayClient> {
    const token = await this.accessToken();
    return new GatewayClient({ baseUrl: gatewayUrl, accessToken: async () => token });
  }

  /** A grant through the API (for connections that need no approval), with its token. */
  async grant(req: { connection: string; duration?: string }): Promise<{ token: string; id: string }> {
    const out = await (await this.api()).requestGrant(req);
    if (!('grant' in out) || !out.grant.token) throw new Error(`expected a grant for ${this.name} on ${req.connection}`);
    return { token: out.grant.token, id: out.grant.id };
  }

  async stopAgent(): Promise<void> {
    await this.hoop(['agent', 'stop']);
  }
}

/** A pg client through a local tunnel port (any user name, no password: identity came with the grant). */
export function tunnelClient(port: number, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port, user: 'whoever', database: 'shop', ...extra });
}

export { databaseUrl };
