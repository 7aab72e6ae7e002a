/**
 * Verifies IdP access tokens (JWT) against the issuer's JWKS: signature, issuer, audience, expiry and
 * not-before with a small clock-skew allowance, and that the token is an access token (not an ID token of the
 * same issuer and audience). Anything doubtful is denied with `token_invalid`.
 *
 * The JWKS location comes from the issuer's discovery document, fetched once and cached; keys are cached and
 * re-fetched by jose when an unknown `kid` appears.
 */
import { createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, errors as joseErrors, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { HoopError } from '../../shared/errors.js';
import type { Identity } from './identity.js';

export interface AccessTokenVerifierOptions {
  issuer: string;
  audience: string;
  groupsClaim: string;
  usernameClaims: readonly string[];
  clockSkewSeconds: number;
  /** Allows an http: issuer (the demo and tests only). */
  allowInsecureHttp: boolean;
  fetch?: typeof fetch;
  now?: () => Date;
}

export type AccessTokenVerifier = (token: string) => Promise<Identity>;

/**
 * The issuer's `jwks_uri`, from its discovery document; throws (plain Errors, saying what is wrong) when the
 * document cannot be fetched, names another issuer (a trailing `/` is enough), has no `jwks_uri`, or gives an
 * https issuer a plain-http one.
 */
export async function discoverJwksUri(issuer: string, doFetch: typeof fetch = fetch, timeoutMs = 10_000): Promise<string> {
  const discoveryUrl = issuer.replace(/\/$/, '') + '/.well-known/openid-configuration';
  const res = await doFetch(discoveryUrl, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${discoveryUrl} answered HTTP ${res.status}`);
  const doc = (await res.json()) as { issuer?: string; jwks_uri?: unknown };
  if (doc.issuer !== issuer) throw new Error(`the discovery document names the issuer ${JSON.stringify(doc.issuer ?? null)}, not ${JSON.stringify(issuer)}: tokens will be refused until identity.issuer says exactly ${JSON.stringify(doc.issuer ?? null)}`);
  if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) throw new Error('the discovery document has no jwks_uri');
  // The keys decide which tokens are genuine: an https issuer's keys never come over plain http.
  if (new URL(issuer).protocol === 'https:' && new URL(doc.jwks_uri).protocol !== 'https:') {
    throw new Error(`the discovery document's jwks_uri ${doc.jwks_uri} is not https, although the issuer is`);
  }
  return doc.jwks_uri;
}

export function createAccessTokenVerifier(opts: AccessTokenVerifierOptions): AccessTokenVerifier {
  const doFetch = opts.fetch ?? fetch;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let jwksPromise: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  const loadJwks = (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    if (jwks) return Promise.resolve(jwks);
    jwksPromise ??= (async () => {
      const issuerUrl = new URL(opts.issuer);
      if (issuerUrl.protocol !== 'https:' && !opts.allowInsecureHttp) {
        throw new HoopError('config_invalid', `identity.issuer ${opts.issuer} is not https`, {
          hint: 'use an https issuer, or set identity.allow_insecure_http: true for local development only',
        });
      }
      jwks = createRemoteJWKSet(new URL(await discoverJwksUri(opts.issuer, doFetch)), {
        timeoutDuration: 10_000,
        cooldownDuration: 30_000,
        [customFetch]: (url: string, init: RequestInit) => doFetch(url, init),
      });
      return jwks;
    })().catch((e: unknown) => {
      jwksPromise = undefined; // try again on the next request
      // The gateway's own network problem: users should not be sent to log in again for it.
      throw new HoopError('upstream_unavailable', `cannot load the identity provider's signing keys from ${opts.issuer}`, {
        cause: e,
        hint: `check that the gateway can reach ${opts.issuer}/.well-known/openid-configuration`,
      });
    });
    return jwksPromise;
  };

  return async (token: string): Promise<Identity> => {
    // Name the problem precisely when the token comes from another issuer (it would otherwise fail as
    // "unknown key"); the signature is still verified below for every token that gets further.
    let claimedIssuer: unknown;
    let claimedAudience: unknown;
    try {
      ({ iss: claimedIssuer, aud: claimedAudience } = decodeJwt(token));
    } catch (e) {
      throw new HoopError('token_invalid', 'access token is malformed', { cause: e, hint: 'run `hoop login` again' });
    }
    if (claimedIssuer !== opts.issuer) {
      throw new HoopError('token_invalid', 'access token was issued by an untrusted issuer', {
        hint: `this gateway trusts ${opts.issuer}; run \`hoop login\` against it`,
        details: { issuer: typeof claimedIssuer === 'string' ? claimedIssuer.slice(0, 200) : null },
      });
    }
    const keys = await loadJwks();
    let payload: JWTPayload;
    let header: JWTHeaderParameters;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, keys, {
        issuer: opts.issuer,
        audience: opts.audience,
        clockTolerance: opts.clockSkewSeconds,
        requiredClaims: ['exp', 'sub'],
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
        ...(opts.now ? { currentDate: opts.now() } : {}),
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'aud') {
        // Logging in again cannot fix this: the gateway and the identity provider disagree. Both values are public.
        const got = (Array.isArray(claimedAudience) ? claimedAudience : [claimedAudience]).filter((a) => typeof a === 'string').map((a) => `"${a.slice(0, 200)}"`);
        throw new HoopError('token_invalid', `access token is for another audience: it is for ${got.join(', ') || 'no audience'}, and this gateway expects "${opts.audience}"`, {
          cause: e,
          hint: 'an operator sets identity.audience to the audience the identity provider puts in access tokens (docs/configuration.md, identity)',
        });
      }
      if (keySetUnavailable(e)) {
        // Refused all the same, but it is the gateway's network, not the token: logging in again would not help.
        throw new HoopError('upstream_unavailable', `cannot load the identity provider's signing keys from ${opts.issuer}`, {
          cause: e,
          hint: `check that the gateway can reach ${opts.issuer}'s key set (jwks_uri in its discovery document)`,
        });
      }
      throw new HoopError('token_invalid', describeJoseError(e), { cause: e, hint: 'run `hoop login` again' });
    }
    const why = notAnAccessToken(header, payload);
    if (why) {
      // Signed by the right issuer for the right audience, but another kind of token: an ID token above all,
      // whose audience is the client's id (the same as the access tokens' on some identity providers) and
      // which clients hand to other parties. Accepting it would let any of them act as the user here.
      throw new HoopError('token_invalid', `the token is not an access token: ${why}`, {
        hint: 'send the access token `hoop login` stored (HOOP_TOKEN takes an access token; a CI job\'s id_token goes to token exchange, which `hoop exec` does with HOOP_ID_TOKEN)',
      });
    }
    return identityFromClaims(payload, opts);
  };
}

/** Header `typ` values an access token may carry: RFC 9068's `at+jwt`, or the generic `JWT`; absent is fine too. */
const ACCESS_TOKEN_TYPES = new Set(['jwt', 'at+jwt', 'application/at+jwt']);
/** Claims defined for ID tokens only (OpenID Connect Core 3.1.3.6, 3.3.2.11; FAPI's `s_hash`). */
const ID_TOKEN_CLAIMS = ['at_hash', 'c_hash', 's_hash'] as const;

/**
 * Why a verified JWT is not an access token, or undefined. Identity providers mark the difference in one of
 * four ways: the header's `typ` (`at+jwt` per RFC 9068; `id_token+jwt`, `logout+jwt`… otherwise), Keycloak's
 * `typ` claim (`Bearer` for access tokens, `ID`, `Refresh`, `Logout`…), Amazon Cognito's `token_use` (`access`
 * or `id`), or claims only ID tokens carry.
 */
export function notAnAccessToken(header: { typ?: unknown }, payload: Record<string, unknown>): string | undefined {
  const quote = (v: unknown): string => JSON.stringify(typeof v === 'string' ? v.slice(0, 50) : v);
  if (header.typ !== undefined && !(typeof header.typ === 'string' && ACCESS_TOKEN_TYPES.has(header.typ.toLowerCase()))) {
    return `its header says its type is ${quote(header.typ)}`;
  }
  if (payload.typ !== undefined && !(typeof payload.typ === 'string' && payload.typ.toLowerCase() === 'bearer')) {
    return `its typ claim is ${quote(payload.typ)}`;
  }
  if (payload.token_use !== undefined && payload.token_use !== 'access') {
    return `its token_use claim is ${quote(payload.token_use)}`; // Amazon Cognito: "access" or "id"
  }
  const idClaim = ID_TOKEN_CLAIMS.find((c) => c in payload);
  if (idClaim) return `it carries ${idClaim}, which only ID tokens do`;
  return undefined;
}

/**
 * Whether verification failed because the key set could not be fetched (after discovery worked): a timeout, a
 * network error (fetch's TypeError), an answer other than 200, or one that is not a key set.
 */
function keySetUnavailable(e: unknown): boolean {
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid) return true;
  // fetch's own network error (by name: it may come from another realm than this module's TypeError).
  if (e instanceof Error && e.name === 'TypeError' && e.message === 'fetch failed') return true;
  return e instanceof joseErrors.JOSEError && e.code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set/.test(e.message);
}

function describeJoseError(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'access token expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return 'access token was issued by an untrusted issuer';
    if (e.claim === 'aud') return 'access token is for another audience';
    if (e.claim === 'nbf') return 'access token is not valid yet';
    return `access token claim "${e.claim}" is invalid`;
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'access token signature is invalid';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'access token is signed with an unknown key';
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid) return 'access token is malformed';
  return 'access token could not be verified';
}

function identityFromClaims(p: JWTPayload, opts: AccessTokenVerifierOptions): Identity {
  const rawGroups = (p as Record<string, unknown>)[opts.groupsClaim];
  const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : [];
  let subject: string | undefined;
  for (const c of opts.usernameClaims) {
    const v = (p as Record<string, unknown>)[c];
    // An address the identity provider says it has not verified names no one: anyone could have typed it.
    if (c === 'email' && (p as Record<string, unknown>).email_verified === false) continue;
    if (typeof v === 'string' && v.length > 0) {
      subject = v;
      break;
    }
  }
  subject ??= p.sub!;
  // A token minted by client credentials carries the client id as `sub` and no user claims.
  const clientId = (p as Record<string, unknown>).client_id;
  const kind: Identity['kind'] = typeof clientId === 'string' && clientId === p.sub ? 'client' : 'user';
  const name = (p as Record<string, unknown>).name;
  return {
    subject,
    ...(typeof name === 'string' ? { name } : {}),
    groups,
    kind,
    issuer: opts.issuer,
    claims: { sub: p.sub, iss: p.iss, ...(typeof clientId === 'string' ? { client_id: clientId } : {}), ...(p.jti ? { jti: p.jti } : {}) },
  };
}
