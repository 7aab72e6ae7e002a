import { createHash, timingSafeEqual } from 'node:crypto';

/** A person who can log in at the dev IdP. Passwords are plain text: this IdP exists for demos and tests only. */
export interface DevUser {
  readonly username: string;
  readonly password: string;
  readonly name?: string;
  readonly groups: readonly string[];
}

/** The CLI's client: public (no secret), native, PKCE, loopback redirect on any port, device flow. */
export interface DevNativeClient {
  readonly kind: 'native';
  readonly clientId: string;
}

/** A machine client using the client credentials grant. Its tokens carry `sub` = client id and these groups. */
export interface DevServiceClient {
  readonly kind: 'service';
  readonly clientId: string;
  /** When absent, `createDevIdp` generates one and reports it in `DevIdp.clientSecrets`. */
  readonly clientSecret?: string;
  readonly groups: readonly string[];
}

export type DevClient = DevNativeClient | DevServiceClient;

export const DEMO_USERS: readonly DevUser[] = Object.freeze([
  { username: 'alice', password: 'alice', name: 'Alice Engineer', groups: ['engineers'] },
  { username: 'bob', password: 'bob', name: 'Bob DBA', groups: ['dba', 'admins', 'auditors'] },
]);

export const DEMO_CLIENTS: readonly DevClient[] = Object.freeze([
  { kind: 'native', clientId: 'hoop-cli' },
  { kind: 'service', clientId: 'ci-bot', groups: ['ci-deployers'] },
]);

/** The redirect registered for native clients; oidc-provider accepts any port on it (RFC 8252 §7.3). */
export const NATIVE_REDIRECT_URI = 'http://127.0.0.1/callback';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Looks a user up by name and checks the password in constant time; undefined when either is wrong. */
export function authenticate(users: readonly DevUser[], login: string, password: string): DevUser | undefined {
  const user = users.find((u) => u.username === login);
  // Compare digests so the comparison takes the same time whatever the lengths, and whether the user exists.
  const given = createHash('sha256').update(password).digest();
  const expected = createHash('sha256').update(user?.password ?? '\u0000no-such-user').digest();
  return timingSafeEqual(given, expected) && user ? user : undefined;
}

/** oidc-provider client metadata for the given clients; `secrets` holds each service client's effective secret. */
export function clientMetadata(clients: readonly DevClient[], secrets: ReadonlyMap<string, string>): Record<string, unknown>[] {
  return clients.map((c) => {
    if (c.kind === 'native') {
      return {
        client_id: c.clientId,
        client_name: 'hoop CLI',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
        response_types: ['code'],
        redirect_uris: [NATIVE_REDIRECT_URI],
      };
    }
    return {
      client_id: c.clientId,
      client_secret: secrets.get(c.clientId),
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    };
  });
}

/** The claims a token or ID token carries about a user, beyond `sub`. */
export function userClaims(user: DevUser): Record<string, unknown> {
  return { preferred_username: user.username, name: user.name ?? user.username, groups: [...user.groups] };
}
