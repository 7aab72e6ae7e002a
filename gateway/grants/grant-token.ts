/**
 * Grant tokens: compact JWS (EdDSA / Ed25519) naming the subject, groups, connection, grant id and expiry.
 * The token is a bearer credential for opening tunnels; the grant row in the database stays the source of
 * truth for revocation and renewal.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { HoopError } from '../../shared/errors.js';
import type { SigningKey } from './signing-key.js';

export const GRANT_AUDIENCE = 'hoop-tunnel';
export const GRANT_TYPE = 'hoop-grant+jwt';

export interface GrantClaims {
  grantId: string;
  subject: string;
  groups: string[];
  connection: string;
  issuedAt: Date;
  expiresAt: Date;
}

export async function signGrant(claims: GrantClaims, key: SigningKey, issuer: string): Promise<string> {
  return new SignJWT({ grp: claims.groups, conn: claims.connection })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: GRANT_TYPE })
    .setIssuer(issuer)
    .setAudience(GRANT_AUDIENCE)
    .setSubject(claims.subject)
    .setJti(claims.grantId)
    .setIssuedAt(Math.floor(claims.issuedAt.getTime() / 1000))
    .setExpirationTime(Math.floor(claims.expiresAt.getTime() / 1000))
    .sign(key.privateKey);
}

/** Verifies signature, issuer, audience, type and expiry. Throws grant_invalid or grant_expired. */
export async function verifyGrant(token: string, key: SigningKey, issuer: string, now: Date): Promise<GrantClaims> {
  try {
    const { payload } = await jwtVerify(token, key.publicKey, {
      issuer,
      audience: GRANT_AUDIENCE,
      typ: GRANT_TYPE,
      algorithms: ['EdDSA'],
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      currentDate: now,
      clockTolerance: 0,
    });
    const groups = Array.isArray(payload.grp) ? payload.grp.filter((g): g is string => typeof g === 'string') : [];
    if (typeof payload.conn !== 'string') throw new HoopError('grant_invalid', 'grant names no connection');
    return {
      grantId: payload.jti!,
      subject: payload.sub!,
      groups,
      connection: payload.conn,
      issuedAt: new Date(payload.iat! * 1000),
      expiresAt: new Date(payload.exp! * 1000),
    };
  } catch (e) {
    if (e instanceof HoopError) throw e;
    if (e instanceof joseErrors.JWTExpired) {
      throw new HoopError('grant_expired', 'the grant has expired', { cause: e, hint: 'run `hoop connect` again for a new grant' });
    }
    throw new HoopError('grant_invalid', 'the grant is not valid (bad signature, issuer or format)', {
      cause: e,
      hint: 'run `hoop connect` again for a new grant',
    });
  }
}
