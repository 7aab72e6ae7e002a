import { ProtocolError } from '../../../../shared/errors.js';
import {
  CANCEL_REQUEST_CODE,
  FrontendTag,
  GSSENC_REQUEST_CODE,
  MAX_CANCEL_KEY_LENGTH,
  PROTOCOL_MAJOR,
  SSL_REQUEST_CODE,
} from './constants.js';
import { Reader } from './reader.js';

/** The untagged first packet of a connection. */
export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: Buffer }
  | { kind: 'startup'; version: number; params: Record<string, string> };

/** 'S' names a prepared statement, 'P' a portal. */
export type DescribeTarget = 'S' | 'P';

/** A client-to-server message. Buffers are slices of the frame body (no copy). */
export type FrontendMessage =
  | { type: 'Query'; sql: string }
  | { type: 'Parse'; name: string; sql: string; paramTypes: number[] }
  | {
      type: 'Bind';
      portal: string;
      statement: string;
      paramFormats: number[];
      params: (Buffer | null)[];
      resultFormats: number[];
    }
  | { type: 'Describe'; target: DescribeTarget; name: string }
  /** `maxRows` ≤ 0 means "all rows", as the server reads it. */
  | { type: 'Execute'; portal: string; maxRows: number }
  | { type: 'Sync' }
  | { type: 'Flush' }
  | { type: 'Close'; target: DescribeTarget; name: string }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'CopyDone' }
  | { type: 'CopyFail'; message: string }
  /** PasswordMessage, SASLInitialResponse, SASLResponse or GSSResponse: only the auth state tells which. */
  | { type: 'PasswordLike'; data: Buffer }
  | { type: 'FunctionCall'; oid: number; argFormats: number[]; args: (Buffer | null)[]; resultFormat: number }
  | { type: 'Terminate' }
  | { type: 'Unknown'; tag: number; body: Buffer };

/**
 * Decodes the body of an untagged startup-phase packet (the bytes after its length word).
 *
 * Accepts any minor of protocol 3 (3.0, and 3.2 from PostgreSQL 18 clients); the server negotiates the minor.
 * Rejects another major, a missing or empty `user`, duplicate keys and missing terminators.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST
 */
export function decodeStartupPacket(body: Buffer): StartupPacket {
  const r = new Reader(body, 'startup');
  const code = r.int32();
  switch (code) {
    case SSL_REQUEST_CODE:
      r.end();
      return { kind: 'ssl' };
    case GSSENC_REQUEST_CODE:
      r.end();
      return { kind: 'gssenc' };
    case CANCEL_REQUEST_CODE: {
      const pid = r.int32();
      const secret = r.rest();
      if (secret.length < 4 || secret.length > MAX_CANCEL_KEY_LENGTH) {
        throw r.error(`cancel key of ${secret.length} bytes (expected 4 to ${MAX_CANCEL_KEY_LENGTH})`);
      }
      return { kind: 'cancel', pid, secret };
    }
    default:
      break;
  }
  const major = code >>> 16;
  if (major !== PROTOCOL_MAJOR) {
    throw new ProtocolError(`unsupported frontend protocol ${major}.${code & 0xffff}: this gateway speaks 3.x`);
  }
  // A null-prototype record, so a key such as "__proto__" is plain data.
  const params = Object.create(null) as Record<string, string>;
  for (;;) {
    const key = r.cstring();
    if (key === '') break;
    if (Object.hasOwn(params, key)) throw r.error(`duplicate startup parameter "${key}"`);
    params[key] = r.cstring();
  }
  r.end();
  if (!params['user']) throw r.error('no user name in the startup packet');
  return { kind: 'startup', version: code, params };
}

/**
 * Decodes one tagged client-to-server message from its tag and body. Unknown tags decode to `Unknown`
 * so they can pass through untouched; known tags with malformed bodies throw {@link ProtocolError}.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
export function decodeFrontend(tag: number, body: Buffer): FrontendMessage {
  switch (tag) {
    case FrontendTag.Query: {
      const r = new Reader(body, 'Query');
      const sql = r.cstring();
      r.end();
      return { type: 'Query', sql };
    }
    case FrontendTag.Parse: {
      const r = new Reader(body, 'Parse');
      const name = r.cstring();
      const sql = r.cstring();
      const paramTypes = r.array((x) => x.uint32());
      r.end();
      return { type: 'Parse', name, sql, paramTypes };
    }
    case FrontendTag.Bind: {
      const r = new Reader(body, 'Bind');
      const portal = r.cstring();
      const statement = r.cstring();
      const paramFormats = r.array((x) => x.int16());
      const params = r.array((x) => x.nullableBytes());
      const resultFormats = r.array((x) => x.int16());
      r.end();
      return { type: 'Bind', portal, statement, paramFormats, params, resultFormats };
    }
    case FrontendTag.Describe:
    case FrontendTag.Close: {
      const type = tag === FrontendTag.Describe ? 'Describe' : 'Close';
      const r = new Reader(body, type);
      const target = describeTarget(r);
      const name = r.cstring();
      r.end();
      return { type, target, name };
    }
    case FrontendTag.Execute: {
      const r = new Reader(body, 'Execute');
      const portal = r.cstring();
      const maxRows = r.int32();
      r.end();
      return { type: 'Execute', portal, maxRows };
    }
    case FrontendTag.Sync:
      return empty(body, 'Sync');
    case FrontendTag.Flush:
      return empty(body, 'Flush');
    case FrontendTag.CopyDone:
      return empty(body, 'CopyDone');
    case FrontendTag.Terminate:
      return empty(body, 'Terminate');
    case FrontendTag.CopyData:
      return { type: 'CopyData', data: body };
    case FrontendTag.CopyFail: {
      const r = new Reader(body, 'CopyFail');
      const message = r.cstring();
      r.end();
      return { type: 'CopyFail', message };
    }
    case FrontendTag.PasswordLike:
      return { type: 'PasswordLike', data: body };
    case FrontendTag.FunctionCall: {
      const r = new Reader(body, 'FunctionCall');
      const oid = r.uint32();
      const argFormats = r.array((x) => x.int16());
      const args = r.array((x) => x.nullableBytes());
      const resultFormat = r.int16();
      r.end();
      return { type: 'FunctionCall', oid, argFormats, args, resultFormat };
    }
    default:
      return { type: 'Unknown', tag, body };
  }
}

function describeTarget(r: Reader): DescribeTarget {
  const t = r.uint8();
  if (t === 0x53) return 'S';
  if (t === 0x50) return 'P';
  throw r.error(`target byte 0x${t.toString(16)} is neither 'S' nor 'P'`);
}

function empty<T extends 'Sync' | 'Flush' | 'CopyDone' | 'Terminate'>(body: Buffer, type: T): { type: T } {
  if (body.length !== 0) throw new ProtocolError(`malformed ${type} message: expected an empty body, got ${body.length} bytes`);
  return { type };
}

/**
 * Reads a PasswordLike body as a PasswordMessage (after AuthenticationCleartextPassword or MD5Password).
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE
 */
export function decodePasswordMessage(body: Buffer): string {
  const r = new Reader(body, 'PasswordMessage');
  const password = r.cstring();
  r.end();
  return password;
}

/**
 * Reads a PasswordLike body as a SASLInitialResponse (the first message after AuthenticationSASL).
 * `data` is null when the client sent length -1.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLINITIALRESPONSE
 */
export function decodeSaslInitialResponse(body: Buffer): { mechanism: string; data: Buffer | null } {
  const r = new Reader(body, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const data = r.nullableBytes();
  r.end();
  return { mechanism, data };
}
