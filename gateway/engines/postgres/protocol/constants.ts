/**
 * PostgreSQL v3 wire protocol constants.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Tags of client-to-server messages, as char codes. Several share a code with a backend tag. */
export const FrontendTag = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  Parse: 0x50, // 'P'
  /** PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse: which one depends on the auth state. */
  PasswordLike: 0x70, // 'p'
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
} as const;
export type FrontendTagValue = (typeof FrontendTag)[keyof typeof FrontendTag];

/** Tags of server-to-client messages, as char codes. */
export const BackendTag = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  FunctionCallResponse: 0x56, // 'V'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
} as const;
export type BackendTagValue = (typeof BackendTag)[keyof typeof BackendTag];

/** Protocol 3.0, as sent in the StartupMessage (major 3 in the high 16 bits, minor 0). */
export const PROTOCOL_V3 = 196608;
/** Protocol 3.2 (PostgreSQL 18 clients): longer cancel keys. There is no 3.1 on the wire. */
export const PROTOCOL_V3_2 = 196610;
/** The protocol major this codec understands. Any minor of it is accepted; the server negotiates it down. */
export const PROTOCOL_MAJOR = 3;

/** Request codes carried where a StartupMessage carries its version (1234 in the high 16 bits). */
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** The byte the server answers an SSLRequest or GSSENCRequest with: it is not a framed message. */
export const EncryptionResponse = {
  SslAccept: 0x53, // 'S'
  GssAccept: 0x47, // 'G'
  Refuse: 0x4e, // 'N'
} as const;

/** ReadyForQuery transaction status indicator. */
export const TransactionStatus = {
  Idle: 'I',
  InTransaction: 'T',
  Failed: 'E',
} as const;
export type TransactionStatusValue = (typeof TransactionStatus)[keyof typeof TransactionStatus];

/** AuthenticationXXX request codes (the first int32 of an 'R' message). */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  Cleartext: 3,
  Md5: 5,
  Gss: 7,
  GssContinue: 8,
  Sspi: 9,
  Sasl: 10,
  SaslContinue: 11,
  SaslFinal: 12,
} as const;

/**
 * ErrorResponse / NoticeResponse field codes.
 *
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export const ErrorField = {
  Severity: 'S',
  SeverityNonLocalized: 'V',
  Code: 'C',
  Message: 'M',
  Detail: 'D',
  Hint: 'H',
  Position: 'P',
  InternalPosition: 'p',
  InternalQuery: 'q',
  Where: 'W',
  Schema: 's',
  Table: 't',
  Column: 'c',
  DataType: 'd',
  Constraint: 'n',
  File: 'F',
  Line: 'L',
  Routine: 'R',
} as const;

/** PostgreSQL's own cap on the startup packet (MAX_STARTUP_PACKET_LENGTH in libpq-be). */
export const MAX_STARTUP_LENGTH = 10_000;
/** Cap on any frame before the client has authenticated: passwords and SASL messages are small. */
export const MAX_PREAUTH_FRAME = 64 * 1024;
/** PostgreSQL's own cap on a message (MaxAllocSize, 1 GB). */
export const DEFAULT_MAX_FRAME = 1024 ** 3;
/** Longest cancel key allowed by protocol 3.2; 3.0 keys are exactly 4 bytes. */
export const MAX_CANCEL_KEY_LENGTH = 256;
