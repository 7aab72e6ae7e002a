import { ProtocolError } from '../../../../shared/errors.js';
import { AuthCode, BackendTag, MAX_CANCEL_KEY_LENGTH, TransactionStatus } from './constants.js';
import type { TransactionStatusValue } from './constants.js';
import { Reader } from './reader.js';

/** One column of a RowDescription. */
export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

/** ErrorResponse and NoticeResponse fields, keyed by the one-letter field code (see `ErrorField`). */
export type ErrorFields = Record<string, string>;

/** The kinds of AuthenticationXXX request. */
export type Authentication =
  | { type: 'Authentication'; kind: 'ok' }
  | { type: 'Authentication'; kind: 'cleartext' }
  | { type: 'Authentication'; kind: 'md5'; salt: Buffer }
  | { type: 'Authentication'; kind: 'sasl'; mechanisms: string[] }
  | { type: 'Authentication'; kind: 'saslContinue'; data: Buffer }
  | { type: 'Authentication'; kind: 'saslFinal'; data: Buffer }
  /** Kerberos, GSS, SSPI and anything newer: the gateway does not speak them upstream. */
  | { type: 'Authentication'; kind: 'other'; code: number; data: Buffer };

/** A server-to-client message. Buffers are slices of the frame body (no copy). */
export type BackendMessage =
  | Authentication
  | { type: 'ParameterStatus'; name: string; value: string }
  /** `secret` is 4 bytes in protocol 3.0 and up to 256 in 3.2. */
  | { type: 'BackendKeyData'; pid: number; secret: Buffer }
  | { type: 'ReadyForQuery'; status: TransactionStatusValue }
  | { type: 'RowDescription'; fields: FieldDescription[] }
  | { type: 'DataRow'; values: (Buffer | null)[] }
  | { type: 'CommandComplete'; tag: string }
  | { type: 'ErrorResponse'; fields: ErrorFields }
  | { type: 'NoticeResponse'; fields: ErrorFields }
  | { type: 'NotificationResponse'; pid: number; channel: string; payload: string }
  | { type: 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse'; format: number; columnFormats: number[] }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'CopyDone' }
  | { type: 'ParseComplete' }
  | { type: 'BindComplete' }
  | { type: 'CloseComplete' }
  | { type: 'NoData' }
  | { type: 'PortalSuspended' }
  | { type: 'EmptyQueryResponse' }
  | { type: 'ParameterDescription'; typeOids: number[] }
  | { type: 'FunctionCallResponse'; value: Buffer | null }
  /** `minor` is the newest minor the server supports; `unrecognized` the `_pq_.` options it did not. */
  | { type: 'NegotiateProtocolVersion'; minor: number; unrecognized: string[] }
  | { type: 'Unknown'; tag: number; body: Buffer };

type EmptyType = 'CopyDone' | 'ParseComplete' | 'BindComplete' | 'CloseComplete' | 'NoData' | 'PortalSuspended' | 'EmptyQueryResponse';

const EMPTY: ReadonlyMap<number, EmptyType> = new Map<number, EmptyType>([
  [BackendTag.CopyDone, 'CopyDone'],
  [BackendTag.ParseComplete, 'ParseComplete'],
  [BackendTag.BindComplete, 'BindComplete'],
  [BackendTag.CloseComplete, 'CloseComplete'],
  [BackendTag.NoData, 'NoData'],
  [BackendTag.PortalSuspended, 'PortalSuspended'],
  [BackendTag.EmptyQueryResponse, 'EmptyQueryResponse'],
]);

/**
 * Decodes one server-to-client message from its tag and body. Unknown tags decode to `Unknown`;
 * known tags with malformed bodies throw {@link ProtocolError}.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
export function decodeBackend(tag: number, body: Buffer): BackendMessage {
  const emptyType = EMPTY.get(tag);
  if (emptyType !== undefined) {
    if (body.length !== 0) throw new ProtocolError(`malformed ${emptyType} message: expected an empty body, got ${body.length} bytes`);
    return { type: emptyType };
  }
  switch (tag) {
    case BackendTag.Authentication:
      return decodeAuthentication(body);
    case BackendTag.ParameterStatus: {
      const r = new Reader(body, 'ParameterStatus');
      const name = r.cstring();
      const value = r.cstring();
      r.end();
      return { type: 'ParameterStatus', name, value };
    }
    case BackendTag.BackendKeyData: {
      const r = new Reader(body, 'BackendKeyData');
      const pid = r.int32();
      const secret = r.rest();
      if (secret.length < 4 || secret.length > MAX_CANCEL_KEY_LENGTH) {
        throw r.error(`cancel key of ${secret.length} bytes (expected 4 to ${MAX_CANCEL_KEY_LENGTH})`);
      }
      return { type: 'BackendKeyData', pid, secret };
    }
    case BackendTag.ReadyForQuery: {
      const r = new Reader(body, 'ReadyForQuery');
      const status = String.fromCharCode(r.uint8());
      r.end();
      if (!isTransactionStatus(status)) throw r.error(`unknown transaction status ${JSON.stringify(status)}`);
      return { type: 'ReadyForQuery', status };
    }
    case BackendTag.RowDescription: {
      const r = new Reader(body, 'RowDescription');
      const fields = r.array((x) => ({
        name: x.cstring(),
        tableOid: x.uint32(),
        columnAttr: x.int16(),
        typeOid: x.uint32(),
        typeSize: x.int16(),
        typeModifier: x.int32(),
        format: x.int16(),
      }));
      r.end();
      return { type: 'RowDescription', fields };
    }
    case BackendTag.DataRow: {
      const r = new Reader(body, 'DataRow');
      const values = r.array((x) => x.nullableBytes());
      r.end();
      return { type: 'DataRow', values };
    }
    case BackendTag.CommandComplete: {
      const r = new Reader(body, 'CommandComplete');
      const commandTag = r.cstring();
      r.end();
      return { type: 'CommandComplete', tag: commandTag };
    }
    case BackendTag.ErrorResponse:
      return { type: 'ErrorResponse', fields: decodeErrorFields(body, 'ErrorResponse') };
    case BackendTag.NoticeResponse:
      return { type: 'NoticeResponse', fields: decodeErrorFields(body, 'NoticeResponse') };
    case BackendTag.NotificationResponse: {
      const r = new Reader(body, 'NotificationResponse');
      const pid = r.int32();
      const channel = r.cstring();
      const payload = r.cstring();
      r.end();
      return { type: 'NotificationResponse', pid, channel, payload };
    }
    case BackendTag.CopyInResponse:
    case BackendTag.CopyOutResponse:
    case BackendTag.CopyBothResponse: {
      const type = tag === BackendTag.CopyInResponse ? 'CopyInResponse' : tag === BackendTag.CopyOutResponse ? 'CopyOutResponse' : 'CopyBothResponse';
      const r = new Reader(body, type);
      const format = r.uint8();
      const columnFormats = r.array((x) => x.int16());
      r.end();
      return { type, format, columnFormats };
    }
    case BackendTag.CopyData:
      return { type: 'CopyData', data: body };
    case BackendTag.ParameterDescription: {
      const r = new Reader(body, 'ParameterDescription');
      const typeOids = r.array((x) => x.uint32());
      r.end();
      return { type: 'ParameterDescription', typeOids };
    }
    case BackendTag.FunctionCallResponse: {
      const r = new Reader(body, 'FunctionCallResponse');
      const value = r.nullableBytes();
      r.end();
      return { type: 'FunctionCallResponse', value };
    }
    case BackendTag.NegotiateProtocolVersion: {
      const r = new Reader(body, 'NegotiateProtocolVersion');
      const minor = r.int32();
      const n = r.int32();
      if (n < 0) throw r.error(`invalid option count ${n}`);
      const unrecognized: string[] = [];
      for (let i = 0; i < n; i++) unrecognized.push(r.cstring());
      r.end();
      return { type: 'NegotiateProtocolVersion', minor, unrecognized };
    }
    default:
      return { type: 'Unknown', tag, body };
  }
}

function decodeAuthentication(body: Buffer): Authentication {
  const r = new Reader(body, 'Authentication');
  const code = r.int32();
  switch (code) {
    case AuthCode.Ok:
      r.end();
      return { type: 'Authentication', kind: 'ok' };
    case AuthCode.Cleartext:
      r.end();
      return { type: 'Authentication', kind: 'cleartext' };
    case AuthCode.Md5: {
      const salt = r.bytes(4);
      r.end();
      return { type: 'Authentication', kind: 'md5', salt };
    }
    case AuthCode.Sasl: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = r.cstring();
        if (m === '') break;
        mechanisms.push(m);
      }
      r.end();
      if (mechanisms.length === 0) throw r.error('SASL request lists no mechanism');
      return { type: 'Authentication', kind: 'sasl', mechanisms };
    }
    case AuthCode.SaslContinue:
      return { type: 'Authentication', kind: 'saslContinue', data: r.rest() };
    case AuthCode.SaslFinal:
      return { type: 'Authentication', kind: 'saslFinal', data: r.rest() };
    default:
      return { type: 'Authentication', kind: 'other', code, data: r.rest() };
  }
}

function decodeErrorFields(body: Buffer, what: string): ErrorFields {
  const r = new Reader(body, what);
  const fields: ErrorFields = {};
  for (;;) {
    const code = r.uint8();
    if (code === 0) break;
    // Later duplicates win, as in libpq; unknown codes are kept ("frontends should silently ignore" them).
    fields[String.fromCharCode(code)] = r.cstring();
  }
  r.end();
  return fields;
}

function isTransactionStatus(s: string): s is TransactionStatusValue {
  return s === TransactionStatus.Idle || s === TransactionStatus.InTransaction || s === TransactionStatus.Failed;
}

const ROW_COUNT_TAGS = /^(?:INSERT \d+ (\d+)|(?:SELECT|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY) (\d+))$/;

/**
 * The row count in a CommandComplete tag: "SELECT 5" → 5, "INSERT 0 3" → 3, "COPY 10" → 10;
 * null for tags that carry none ("CREATE TABLE", "BEGIN").
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COMMANDCOMPLETE
 */
export function commandTagRows(tag: string): number | null {
  const m = ROW_COUNT_TAGS.exec(tag);
  if (!m) return null;
  return Number(m[1] ?? m[2]);
}
