/**
 * The slice of `oidc-provider` 9 that the dev IdP uses. The package ships no types (and `@types/oidc-provider`
 * lags a major behind), so this declares only what `gateway/dev-idp/` touches.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/docs/README.md
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface OidcClient {
    readonly clientId: string;
    readonly clientName?: string;
  }

  export interface OidcContext {
    readonly client?: OidcClient;
  }

  /** The Koa context oidc-provider hands to configuration callbacks. */
  export interface KoaContext {
    readonly method: string;
    readonly path: string;
    querystring: string;
    body: unknown;
    type: string;
    status: number;
    readonly oidc: OidcContext;
  }

  export interface AccountClaims {
    sub: string;
    [claim: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): AccountClaims | Promise<AccountClaims>;
  }

  /** AccessToken or ClientCredentials, as passed to `extraTokenClaims`. */
  export interface IssuedToken {
    readonly kind: string;
    readonly accountId?: string;
    readonly clientId?: string;
  }

  export interface ResourceServerInfo {
    audience: string;
    scope?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg: string } };
  }

  export interface ProviderError extends Error {
    readonly error?: string;
    readonly error_description?: string;
    readonly statusCode?: number;
  }

  export interface InteractionDetails {
    readonly uid: string;
    readonly grantId?: string;
    readonly prompt: { readonly name: string; readonly reasons: string[]; readonly details: Record<string, unknown> };
    readonly params: Record<string, unknown>;
    readonly session?: { readonly accountId: string };
  }

  export interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantConstructor {
    new (init: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  /** Configuration is checked at runtime by oidc-provider; callbacks are typed where the dev IdP defines them. */
  export type Configuration = Record<string, unknown>;

  export interface InteractionResult {
    login?: { accountId: string };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export class Provider {
    constructor(issuer: string, configuration: Configuration);
    readonly issuer: string;
    readonly Grant: GrantConstructor;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResult,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): this;
    on(event: 'server_error', listener: (ctx: KoaContext, err: Error) => void): this;
    on(event: string, listener: (ctx: KoaContext, err: ProviderError) => void): this;
  }

  export const errors: {
    readonly SessionNotFound: new (...args: never[]) => ProviderError;
    readonly InvalidTarget: new (description?: string) => ProviderError;
    readonly InvalidRequest: new (description?: string) => ProviderError;
  };

  export default Provider;
}
