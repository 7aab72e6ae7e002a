import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from '../../../../shared/errors.js';

/** The SASL mechanism name this client implements. */
export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/** The GS2 header for "no channel binding" ('n,,'), and its base64 as sent back in `c=`. */
const GS2_HEADER = 'n,,';
const GS2_HEADER_B64 = Buffer.from(GS2_HEADER).toString('base64'); // "biws"

/** Between scramStart and scramContinue. */
export interface ScramStartState {
  readonly stage: 'started';
  readonly clientNonce: string;
  readonly clientFirstBare: string;
}

/** Between scramContinue and scramFinish: the signature the server must prove it knows. */
export interface ScramContinueState {
  readonly stage: 'continued';
  readonly serverSignature: Buffer;
}

/**
 * Builds the client-first message. PostgreSQL ignores the SCRAM user name (it uses the startup packet's), so
 * libpq sends an empty `n=`; `username` exists for RFC test vectors. The nonce comes from the caller's randomness.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-7
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html#SASL-SCRAM-SHA-256
 */
export function scramStart(clientNonce: string, username = ''): { message: Buffer; state: ScramStartState } {
  // RFC 5802: printable ASCII except ','.
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) throw new ProtocolError('SCRAM client nonce must be printable ASCII without commas');
  const clientFirstBare = `n=${username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${clientNonce}`;
  return {
    message: Buffer.from(GS2_HEADER + clientFirstBare, 'utf8'),
    state: { stage: 'started', clientNonce, clientFirstBare },
  };
}

/**
 * Checks the server-first message and builds the client-final message with the proof.
 * The server nonce must extend the client nonce; the salt must be base64 and the iteration count at least 1.
 *
 * Note: PBKDF2 runs synchronously for `i` iterations (4096 by default in PostgreSQL).
 *
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-3
 * @see https://www.rfc-editor.org/rfc/rfc7677
 */
export function scramContinue(
  state: ScramStartState,
  serverFirst: Buffer,
  password: string,
  /** Derives the salted password; the caller may memoise it (the server's salt and count are fixed per role). */
  derive: (password: string, salt: Buffer, iterations: number) => Buffer = saltedPassword,
): { message: Buffer; state: ScramContinueState } {
  const serverFirstText = serverFirst.toString('utf8');
  const attrs = parseAttributes(serverFirstText, 'server-first');
  const [nonceAttr, saltAttr, iterAttr] = attrs;
  if (nonceAttr?.[0] === 'm') throw new ProtocolError('SCRAM server-first message requires an unsupported extension');
  if (nonceAttr?.[0] !== 'r' || saltAttr?.[0] !== 's' || iterAttr?.[0] !== 'i') {
    throw new ProtocolError('SCRAM server-first message must be r=...,s=...,i=...');
  }
  const serverNonce = nonceAttr[1];
  if (!serverNonce.startsWith(state.clientNonce) || serverNonce.length <= state.clientNonce.length) {
    throw new ProtocolError('SCRAM server nonce does not extend the client nonce');
  }
  if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(serverNonce)) throw new ProtocolError('SCRAM server nonce has invalid characters');
  const salt = decodeBase64(saltAttr[1], 'salt');
  if (salt.length === 0) throw new ProtocolError('SCRAM salt is empty');
  if (!/^[1-9][0-9]{0,9}$/.test(iterAttr[1]) || Number(iterAttr[1]) > 0x7fffffff) {
    throw new ProtocolError(`SCRAM iteration count ${JSON.stringify(iterAttr[1])} is invalid`);
  }
  const iterations = Number(iterAttr[1]);

  const salted = derive(password, salt, iterations);
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const clientFinalWithoutProof = `c=${GS2_HEADER_B64},r=${serverNonce}`;
  const authMessage = `${state.clientFirstBare},${serverFirstText},${clientFinalWithoutProof}`;
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (clientSignature[i] as number);
  const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
  return {
    message: Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8'),
    state: { stage: 'continued', serverSignature },
  };
}

/**
 * SaltedPassword := Hi(Normalize(password), salt, i), PBKDF2-HMAC-SHA-256. SASLprep (RFC 4013) is approximated by
 * NFKC: it also maps non-ASCII spaces and drops "mapped to nothing" characters, which NFKC does not. PostgreSQL
 * falls back to the raw bytes when SASLprep fails, and ASCII passwords are unchanged either way.
 */
export function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
}

/**
 * Verifies the server-final message: throws {@link ProtocolError} on a server error (`e=`) or a signature
 * that does not match, which means the server does not know the password (or is not the server).
 *
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-7
 */
export function scramFinish(state: ScramContinueState, serverFinal: Buffer): void {
  const attrs = parseAttributes(serverFinal.toString('utf8'), 'server-final');
  const [first] = attrs;
  if (first?.[0] === 'e') throw new ProtocolError(`SCRAM authentication failed on the server: ${first[1]}`);
  if (first?.[0] !== 'v') throw new ProtocolError('SCRAM server-final message has no verifier');
  const signature = decodeBase64(first[1], 'server signature');
  if (signature.length !== state.serverSignature.length || !timingSafeEqual(signature, state.serverSignature)) {
    throw new ProtocolError('SCRAM server signature does not match: the server did not prove it knows the password');
  }
}

function parseAttributes(text: string, what: string): [string, string][] {
  return text.split(',').map((part) => {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!m) throw new ProtocolError(`malformed SCRAM ${what} message`);
    return [m[1] as string, m[2] as string];
  });
}

function decodeBase64(s: string, what: string): Buffer {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new ProtocolError(`SCRAM ${what} is not valid base64`);
  return Buffer.from(s, 'base64');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}
