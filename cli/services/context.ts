/**
 * Everything a command needs, built once in cli/main.ts: the environment (read only here), the config dir,
 * settings, the token store, and clients for the gateway and the agent. Precedence for the gateway URL:
 * --gateway flag > HOOP_GATEWAY_URL > saved setting > the local default.
 */
import { HoopError } from '../../shared/errors.js';
import { configDir } from '../../shared/paths.js';
import { GatewayClient } from '../../shared/api/client.js';
import { AgentControlClient } from '../../shared/agent/control-client.js';
import { createTokenStore, type TokenStore } from '../../shared/auth/token-store.js';
import type { OidcClient } from '../../shared/auth/oidc.js';
import { accessTokenFor, oidcClientFor } from '../../shared/auth/session.js';
import { openSettings, type Settings } from './settings.js';
import type { Output } from '../ui/output.js';

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8009';
export const CLI_VERSION = '0.1.0';

export interface CliEnv {
  HOOP_GATEWAY_URL?: string | undefined;
  HOOP_TOKEN?: string | undefined;
  HOOP_CONFIG_DIR?: string | undefined;
  HOOP_CLIENT_ID?: string | undefined;
  HOOP_CLIENT_SECRET?: string | undefined;
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

  gatewayUrl(flag?: string): string {
    // An empty variable (`HOOP_GATEWAY_URL=` in a script) counts as unset, as shells treat it.
    const url = flag ?? (this.env.HOOP_GATEWAY_URL || undefined) ?? this.settings.gatewayUrl() ?? DEFAULT_GATEWAY_URL;
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    } catch (e) {
      throw new HoopError('usage', `"${url}" is not a gateway URL`, { cause: e, hint: 'use a URL such as https://hoop.example.com' });
    }
    return url.replace(/\/+$/, '');
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
