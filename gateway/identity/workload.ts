/**
 * Verifies workload OIDC tokens (GitHub Actions, GitLab CI id_tokens) from the issuers listed in
 * `identity.workload_issuers`, and turns a token that passes into a `kind: 'workload'` identity.
 *
 * Order of checks, each failure with its own message:
 * 1. decode without verifying, only to pick the issuer entry by `iss` (an unlisted `iss` is refused at once);
 * 2. signature against that issuer's JWKS (discovery → `jwks_uri`, cached per issuer), `iss`, `exp` (required),
 *    `nbf`, and `iat` not in the future, all with the clock-skew allowance → `token_invalid`;
 * 3. `aud` equals the entry's audience → `token_invalid`;
 * 4. the entry's allow-rules on claims → `access_denied`.
 *
 * Several entries may name the same issuer (e.g. one per repository, each with its own groups): the token must
 * satisfy at least one of them; the identity gets the groups of every entry it satisfies.
 *
 * @see https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
 * @see https://docs.gitlab.com/ci/secrets/id_token_authentication/
 */
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, jwtVerify, errors as joseErrors } from 'jose';
import type { FetchImplementation, JWTPayload, ProtectedHeaderParameters } from 'jose';
import { HoopError } from '../../shared/errors.js';
import { isLoopbackHost, type WorkloadIssuerConfig } from '../config/schema.js';
import type { Identity } from './identity.js';

export interface WorkloadVerifierOptions {
  /** The parsed `identity.workload_issuers` entries. */
  issuers: readonly WorkloadIssuerConfig[];
  clockSkewSeconds: number;
  fetch?: typeof fetch;
  now?: () => Date;
  /** Tests only: accept http:// issuers (and JWKS URLs) on a loopback host. */
  allowInsecureHttp?: boolean;
}

export type WorkloadVerifier = (idToken: string) => Promise<Identity>;

type AllowRules = WorkloadIssuerConfig['allow'];
type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
/** Real CI tokens are 1–2 KiB; anything this large is not one. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** Claims copied into the identity for the audit trail (GitHub Actions, then GitLab CI). Never the token. */
const AUDIT_CLAIMS = [
  'iss', 'sub', 'jti', 'repository', 'repository_owner', 'ref', 'ref_type', 'sha', 'workflow', 'job_workflow_ref',
  'run_id', 'run_attempt', 'environment', 'actor', 'event_name',
  'project_path', 'namespace_path', 'pipeline_id', 'pipeline_source', 'job_id', 'user_login',
] as const;
const HINT = "check the CI job's id_token (issuer, audience, expiry) and that the gateway's clock is right";

/** Creates the verifier. Throws `config_invalid` at once for an issuer URL it would never fetch. */
export function createWorkloadVerifier(opts: WorkloadVerifierOptions): WorkloadVerifier {
  const doFetch = opts.fetch ?? fetch;
  const skew = opts.clockSkewSeconds;
  const byIssuer = new Map<string, WorkloadIssuerConfig[]>();
  opts.issuers.forEach((entry, i) => {
    checkFetchableUrl(entry.issuer, opts.allowInsecureHttp === true, `identity.workload_issuers[${i}].issuer`);
    byIssuer.set(entry.issuer, [...(byIssuer.get(entry.issuer) ?? []), entry]);
  });

  const jwksByIssuer = new Map<string, Promise<RemoteJwks>>();
  const loadJwks = (issuer: string): Promise<RemoteJwks> => {
    let p = jwksByIssuer.get(issuer);
    if (!p) {
      p = discoverJwks(issuer, doFetch, opts.allowInsecureHttp === true).catch((e: unknown) => {
        jwksByIssuer.delete(issuer); // try again on the next token
        // The gateway's own network problem, not the token's: the CI job should not be told to fix its token.
        throw new HoopError('upstream_unavailable', `cannot load the signing keys of workload issuer ${issuer}`, {
          cause: e,
          hint: `check that the gateway can reach ${issuer}/.well-known/openid-configuration`,
        });
      });
      jwksByIssuer.set(issuer, p);
    }
    return p;
  };

  return async (idToken: string): Promise<Identity> => {
    const token = idToken.trim();
    if (token === '') throw invalid('workload token is empty');
    if (token.length > MAX_TOKEN_LENGTH) throw invalid('workload token is malformed (too large)');
    let claimed: JWTPayload;
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
      claimed = decodeJwt(token);
    } catch (e) {
      throw invalid('workload token is malformed', e);
    }
    const iss = claimed.iss;
    if (typeof iss !== 'string' || iss === '') throw invalid('workload token has no issuer (iss)');
    const entries = byIssuer.get(iss);
    if (!entries) {
      throw new HoopError('token_invalid', `workload token from an untrusted issuer ${printable(iss)}`, {
        hint: 'list the issuer under identity.workload_issuers in the gateway config, or use a token from a trusted CI provider',
        details: { issuer: printable(iss) },
      });
    }

    const keys = await loadJwks(iss);
    const now = opts.now?.() ?? new Date();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: iss,
        clockTolerance: skew,
        requiredClaims: ['exp'],
        algorithms: ALGORITHMS,
        currentDate: now,
      }));
    } catch (e) {
      const message = describeJoseError(e, claimed, header, iss, skew);
      if (message.startsWith('cannot load')) {
        throw new HoopError('upstream_unavailable', message, { cause: e, hint: `check that the gateway can reach ${iss}` });
      }
      throw invalid(message, e);
    }
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (typeof payload.iat === 'number' && payload.iat > nowSeconds + skew) {
      throw invalid(`workload token was issued in the future (iat ${isoTime(payload.iat)}, allowed clock skew ${skew}s)`);
    }

    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    const forAudience = entries.filter((c) => audiences.includes(c.audience));
    if (forAudience.length === 0) {
      const expected = [...new Set(entries.map((c) => JSON.stringify(c.audience)))].join(' or ');
      throw invalid(audiences.length === 0
        ? `workload token has no audience, expected ${expected}`
        : `workload token is for audience ${audiences.map(quoted).join(', ')}, expected ${expected}`);
    }

    const claims = payload as Record<string, unknown>;
    const matched: WorkloadIssuerConfig[] = [];
    const rejections: string[] = [];
    for (const entry of forAudience) {
      const rejection = checkAllowRules(claims, entry.allow);
      if (rejection === undefined) matched.push(entry);
      else rejections.push(rejection);
    }
    const first = matched[0];
    if (!first) {
      throw new HoopError('access_denied', rejections.length === 1
        ? rejections[0]!
        : `workload token matches none of the ${rejections.length} allow rules for ${iss}: ${rejections.join('; ')}`, {
        hint: 'ask an admin to allow this workload in identity.workload_issuers',
      });
    }
    return workloadIdentity(claims, iss, first.subject_claim, matched);
  };
}

/**
 * Checks every listed claim against its patterns (see {@link matchesGlob}). Returns why the claims are refused,
 * or undefined when every rule is met. A claim that is missing or not a string fails its rule.
 */
export function checkAllowRules(claims: Readonly<Record<string, unknown>>, allow: AllowRules): string | undefined {
  for (const [claim, patterns] of Object.entries(allow) as [string, readonly string[] | undefined][]) {
    if (patterns === undefined) continue;
    const allowed = `(allowed: ${patterns.join(', ')})`;
    const value = claims[claim];
    if (value === undefined || value === null) return `workload token has no ${claim} claim ${allowed}`;
    if (typeof value !== 'string') return `workload ${claim} claim is not a string ${allowed}`;
    if (!patterns.some((p) => matchesGlob(p, value))) return `workload ${claim} ${quoted(value)} is not allowed ${allowed}`;
  }
  return undefined;
}

/**
 * Whether `value` matches `pattern` as a whole. `*` matches any run of characters, including none and
 * including `/` and `:` (so `refs/heads/release/*` matches `refs/heads/release/1.2/hotfix`); every other
 * character, `?` and `[` included, matches only itself, case-sensitively. There is no escape for a literal `*`.
 *
 * Linear-backtracking wildcard match: O(pattern × value) at worst, never exponential.
 */
export function matchesGlob(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let starP = -1;
  let starV = 0;
  while (v < value.length) {
    if (pattern[p] === '*') {
      starP = p++;
      starV = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (starP >= 0) {
      p = starP + 1;
      v = ++starV;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

function workloadIdentity(
  claims: Record<string, unknown>, issuer: string, subjectClaim: string, matched: readonly WorkloadIssuerConfig[],
): Identity {
  const subject = claims[subjectClaim];
  if (typeof subject !== 'string' || subject === '') {
    throw new HoopError('access_denied', `workload token has no ${subjectClaim} claim to name the workload`, {
      hint: 'set identity.workload_issuers[].subject_claim to a claim the CI provider always sends, such as sub',
    });
  }
  const audit: Record<string, unknown> = {};
  for (const name of AUDIT_CLAIMS) {
    const v = claims[name];
    if (typeof v === 'string') audit[name] = v.slice(0, 500);
    else if (typeof v === 'number' || typeof v === 'boolean') audit[name] = v;
  }
  return {
    subject,
    groups: [...new Set(matched.flatMap((c) => c.groups))],
    kind: 'workload',
    issuer,
    claims: audit,
  };
}

/** Fetches the discovery document and builds jose's remote key set (which re-fetches on an unknown kid). */
async function discoverJwks(issuer: string, doFetch: typeof fetch, allowInsecureHttp: boolean): Promise<RemoteJwks> {
  const url = issuer.replace(/\/$/, '') + '/.well-known/openid-configuration';
  const res = await doFetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== issuer) throw new Error(`discovery document names issuer ${String(doc.issuer)}, expected ${issuer}`);
  if (typeof doc.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
  checkFetchableUrl(doc.jwks_uri, allowInsecureHttp, 'jwks_uri');
  const jwksFetch: FetchImplementation = (u, init) => doFetch(u, init);
  return createRemoteJWKSet(new URL(doc.jwks_uri), {
    timeoutDuration: 10_000,
    cooldownDuration: 30_000,
    [customFetch]: jwksFetch,
  });
}

function checkFetchableUrl(value: string, allowInsecureHttp: boolean, key: string): void {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url?.protocol === 'https:') return;
  if (url?.protocol === 'http:' && allowInsecureHttp && isLoopbackHost(url.hostname)) return;
  throw new HoopError('config_invalid', `${key} ${value} is not an https URL`, {
    hint: 'workload issuers must be https (http is accepted on loopback in tests only)',
  });
}

function describeJoseError(e: unknown, claimed: JWTPayload, header: ProtectedHeaderParameters, iss: string, skew: number): string {
  if (e instanceof joseErrors.JWTExpired) {
    return typeof claimed.exp === 'number'
      ? `workload token expired at ${isoTime(claimed.exp)} (allowed clock skew ${skew}s)`
      : 'workload token expired';
  }
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return `workload token has no ${e.claim} claim`;
    if (e.claim === 'nbf' && typeof claimed.nbf === 'number') {
      return `workload token is not valid before ${isoTime(claimed.nbf)} (allowed clock skew ${skew}s)`;
    }
    return `workload token ${e.claim} claim is invalid`;
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'workload token signature is invalid';
  if (e instanceof joseErrors.JWKSNoMatchingKey) {
    const kid = typeof header.kid === 'string' ? ` (kid ${quoted(header.kid)})` : '';
    return `workload token is signed with a key ${iss} does not publish${kid}`;
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed || e instanceof joseErrors.JOSENotSupported) {
    return `workload token is signed with an unsupported algorithm ${quoted(String(header.alg))}`;
  }
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid) return 'workload token is malformed';
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || !(e instanceof joseErrors.JOSEError)) {
    return `cannot load the signing keys of workload issuer ${iss}`;
  }
  return 'workload token could not be verified';
}

function invalid(message: string, cause?: unknown): HoopError {
  return new HoopError('token_invalid', message, cause === undefined ? { hint: HINT } : { cause, hint: HINT });
}

function isoTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

/** A claim value safe to put in a message: quoted, control characters escaped, at most 200 characters. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

function printable(value: string): string {
  return quoted(value).slice(1, -1);
}
