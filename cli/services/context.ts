/**
 * Everything a command needs, built once in cli/main.ts: the environment (read only here), the config dir,
 * settings, the token store, and clients for the gateway and the agent. Precedence for the gateway URL:
 * --gateway flag > HOOP_GATEWAY_URL > saved setting > the local default (gateway-url.ts, which also refuses
 * plain http to another host).
 */
import { configDir } from '../../shared/paths.js';
import { GatewayClient } from '../../shared/api/client.js';
import { AgentControlClient } from '../../shared/agent/control-client.js';
import { createTokenStore, type TokenStore } from '../../shared/auth/token-store.js';
import type { OidcClient } from '../../shared/auth/oidc.js';
import { accessTokenFor, oidcClientFor } from '../../shared/auth/session.js';
import { openSettings, type Settings } from './settings.js';
import { insecureHttpFromEnv, resolveGatewayUrl, type GatewayFlags } from './gateway-url.js';
import type { Output } from '../ui/output.js';

export const CLI_VERSION = '0.1.0';

export interface CliEnv {
  HOOP_GATEWAY_URL?: string | undefined;
  HOOP_TOKEN?: string | undefined;
  HOOP_CONFIG_DIR?: string | undefined;
  HOOP_CLIENT_ID?: string | undefined;
  HOOP_CLIENT_SECRET?: string | undefined;
  HOOP_INSECURE_HTTP?: string | undefined;
  NO_COLOR?: string | undefined;
  [k: string]: string | undefined;
}

export class CliContext {
  readonly env: Readonly<CliEnv>;
  readonly out: Output;
  readonly configDir: string;
  readonly now: () => Date;
  #settings: Settings | undefined;
  #store: Promise<TokenStore> | undefined;

  constructor(env: Readonly<CliEnv>, out: Output, now: () => Date = () => new Date()) {
    this.env = env;
    this.out = out;
    this.configDir = configDir(env);
    this.now = now;
  }

  get settings(): Settings {
    this.#settings ??= openSettings(this.configDir);
    return this.#settings;
  }

  /** The gateway URL for a command, from its --gateway and --insecure-http, the environment and the settings. */
  gatewayUrl(flags: GatewayFlags = {}): string {
    const allowInsecureHttp = flags.insecureHttp === true || insecureHttpFromEnv(this.env.HOOP_INSECURE_HTTP);
    return resolveGatewayUrl({
      flag: flags.gateway,
      env: this.env.HOOP_GATEWAY_URL,
      saved: () => this.settings.gatewayUrl(),
      savedPath: () => this.settings.path,
    }, allowInsecureHttp);
  }

  tokenStore(): Promise<TokenStore> {
    this.#store ??= createTokenStore({ dir: this.configDir, warn: (m) => this.out.warn(m) });
    return this.#store;
  }

  /** An access token for the gateway: HOOP_TOKEN when set (CI), else the stored login, refreshed silently. */
  accessToken(gatewayUrl: string): Promise<string> {
    return accessTokenFor({ env: this.env, configDir: this.configDir, store: () => this.tokenStore(), now: this.now }, gatewayUrl);
  }

  oidcClient(issuer: string, clientId: string): Promise<OidcClient> {
    return oidcClientFor(issuer, clientId);
  }

  gateway(gatewayUrl: string, opts: { auth?: boolean } = {}): GatewayClient {
    return new GatewayClient({
      baseUrl: gatewayUrl,
      userAgent: `hoop-cli/${CLI_VERSION}`,
      ...(opts.auth === false ? {} : { accessToken: () => this.accessToken(gatewayUrl) }),
    });
  }

  agent(): AgentControlClient {
    return AgentControlClient.forConfigDir(this.configDir);
  }
}
