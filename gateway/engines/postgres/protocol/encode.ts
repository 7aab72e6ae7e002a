import { ProtocolError } from '../../../../shared/errors.js';
import {
  AuthCode,
  BackendTag,
  CANCEL_REQUEST_CODE,
  EncryptionResponse,
  ErrorField,
  FrontendTag,
  MAX_CANCEL_KEY_LENGTH,
  PROTOCOL_V3,
  SSL_REQUEST_CODE,
} from './constants.js';
import type { TransactionStatusValue } from './constants.js';
import type { FieldDescription } from './backend.js';
import { buildFrame } from './writer.js';
import type { Part } from './writer.js';

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

/** The fields of an ErrorResponse or NoticeResponse we write. `severity` goes out as both S and V. */
export interface ErrorResponseFields {
  severity: Severity;
  /** SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

const OPTIONAL_FIELDS: readonly (readonly [keyof ErrorResponseFields, string])[] = [
  ['detail', ErrorField.Detail],
  ['hint', ErrorField.Hint],
  ['position', ErrorField.Position],
  ['internalPosition', ErrorField.InternalPosition],
  ['internalQuery', ErrorField.InternalQuery],
  ['where', ErrorField.Where],
  ['schema', ErrorField.Schema],
  ['table', ErrorField.Table],
  ['column', ErrorField.Column],
  ['dataType', ErrorField.DataType],
  ['constraint', ErrorField.Constraint],
  ['file', ErrorField.File],
  ['line', ErrorField.Line],
  ['routine', ErrorField.Routine],
];

function errorParts(f: ErrorResponseFields): Part[] {
  if (!/^[0-9A-Z]{5}$/.test(f.code)) throw new ProtocolError(`invalid SQLSTATE ${JSON.stringify(f.code)}`);
  const parts: Part[] = [
    { i8: ErrorField.Severity.charCodeAt(0) }, { cstr: f.severity },
    { i8: ErrorField.SeverityNonLocalized.charCodeAt(0) }, { cstr: f.severity },
    { i8: ErrorField.Code.charCodeAt(0) }, { cstr: f.code },
    { i8: ErrorField.Message.charCodeAt(0) }, { cstr: f.message },
  ];
  for (const [key, code] of OPTIONAL_FIELDS) {
    const v = f[key];
    if (v !== undefined) parts.push({ i8: code.charCodeAt(0) }, { cstr: v });
  }
  parts.push({ i8: 0 });
  return parts;
}

/**
 * ErrorResponse. Writes S and V (non-localized severity, which newer clients prefer), C, M, then the optional fields.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ERRORRESPONSE
 */
export function encodeErrorResponse(fields: ErrorResponseFields): Buffer {
  return buildFrame(BackendTag.ErrorResponse, errorParts(fields));
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NOTICERESPONSE */
export function encodeNoticeResponse(fields: ErrorResponseFields): Buffer {
  return buildFrame(BackendTag.NoticeResponse, errorParts(fields));
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONOK */
export function encodeAuthenticationOk(): Buffer {
  return buildFrame(BackendTag.Authentication, [{ i32: AuthCode.Ok }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONCLEARTEXTPASSWORD */
export function encodeAuthenticationCleartext(): Buffer {
  return buildFrame(BackendTag.Authentication, [{ i32: AuthCode.Cleartext }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERSTATUS */
export function encodeParameterStatus(name: string, value: string): Buffer {
  return buildFrame(BackendTag.ParameterStatus, [{ cstr: name }, { cstr: value }]);
}

/**
 * BackendKeyData. `secret` is 4 bytes for protocol 3.0 clients and up to 256 for 3.2.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BACKENDKEYDATA
 */
export function encodeBackendKeyData(pid: number, secret: Buffer): Buffer {
  checkSecret(secret);
  return buildFrame(BackendTag.BackendKeyData, [{ i32: pid }, { bytes: secret }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-READYFORQUERY */
export function encodeReadyForQuery(status: TransactionStatusValue): Buffer {
  return buildFrame(BackendTag.ReadyForQuery, [{ i8: status.charCodeAt(0) }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ROWDESCRIPTION */
export function encodeRowDescription(fields: readonly FieldDescription[]): Buffer {
  const parts: Part[] = [{ i16: count(fields.length) }];
  for (const f of fields) {
    parts.push(
      { cstr: f.name }, { u32: f.tableOid }, { i16: f.columnAttr }, { u32: f.typeOid },
      { i16: f.typeSize }, { i32: f.typeModifier }, { i16: f.format },
    );
  }
  return buildFrame(BackendTag.RowDescription, parts);
}

/**
 * DataRow. A string value is written as UTF-8 text; null as SQL NULL.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-DATAROW
 */
export function encodeDataRow(values: readonly (Buffer | string | null)[]): Buffer {
  const parts: Part[] = [{ i16: count(values.length) }];
  for (const v of values) parts.push({ lenBytes: v });
  return buildFrame(BackendTag.DataRow, parts);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COMMANDCOMPLETE */
export function encodeCommandComplete(tag: string): Buffer {
  return buildFrame(BackendTag.CommandComplete, [{ cstr: tag }]);
}

/**
 * CopyData; the tag is the same in both directions.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYDATA
 */
export function encodeCopyData(data: Buffer): Buffer {
  return buildFrame(BackendTag.CopyData, [{ bytes: data }]);
}

/**
 * The one-byte refusal of an SSLRequest or GSSENCRequest (not a framed message).
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 */
export function encodeSslNo(): Buffer {
  return Buffer.from([EncryptionResponse.Refuse]);
}

/**
 * StartupMessage. Any `user`, `database`, `options` and GUCs go in `params`; `version` defaults to 3.0.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE
 */
export function encodeStartupMessage(params: Readonly<Record<string, string>>, version: number = PROTOCOL_V3): Buffer {
  const parts: Part[] = [{ i32: version }];
  for (const [k, v] of Object.entries(params)) {
    if (k === '') throw new ProtocolError('startup parameter names cannot be empty');
    parts.push({ cstr: k }, { cstr: v });
  }
  parts.push({ i8: 0 });
  return buildFrame(null, parts);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SSLREQUEST */
export function encodeSslRequest(): Buffer {
  return buildFrame(null, [{ i32: SSL_REQUEST_CODE }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST */
export function encodeCancelRequest(pid: number, secret: Buffer): Buffer {
  checkSecret(secret);
  return buildFrame(null, [{ i32: CANCEL_REQUEST_CODE }, { i32: pid }, { bytes: secret }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE */
export function encodePasswordMessage(password: string): Buffer {
  return buildFrame(FrontendTag.PasswordLike, [{ cstr: password }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLINITIALRESPONSE */
export function encodeSaslInitialResponse(mechanism: string, data: Buffer | null): Buffer {
  return buildFrame(FrontendTag.PasswordLike, [{ cstr: mechanism }, { lenBytes: data }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLRESPONSE */
export function encodeSaslResponse(data: Buffer): Buffer {
  return buildFrame(FrontendTag.PasswordLike, [{ bytes: data }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-QUERY */
export function encodeQuery(sql: string): Buffer {
  return buildFrame(FrontendTag.Query, [{ cstr: sql }]);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SYNC */
export function encodeSync(): Buffer {
  return buildFrame(FrontendTag.Sync, []);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-TERMINATE */
export function encodeTerminate(): Buffer {
  return buildFrame(FrontendTag.Terminate, []);
}

function checkSecret(secret: Buffer): void {
  if (secret.length < 4 || secret.length > MAX_CANCEL_KEY_LENGTH) {
    throw new ProtocolError(`cancel key of ${secret.length} bytes (expected 4 to ${MAX_CANCEL_KEY_LENGTH})`);
  }
}

function count(n: number): number {
  if (n > 0xffff) throw new ProtocolError(`${n} items do not fit in one message (at most 65535)`);
  return n;
}
