/**
 * The engine interface: one folder per protocol behind these two methods, wired by hand in gateway/main.ts.
 * An engine speaks its protocol on the client stream (a tunnel) and toward the target, runs policy on every
 * statement and records the session. It refuses in its own wire format, so users see a native error.
 */
import type { Duplex } from 'node:stream';
import type { HoopError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Connection } from '../connections/connection.js';
import type { SessionRecorder } from '../recording/recorder.js';
import type { Identity } from '../identity/identity.js';
import type { ConnectionPolicy, StatementReviews } from '../policy/connection-policy.js';

export interface SessionContext {
  sessionId: string;
  subject: string;
  groups: readonly string[];
  grantId: string;
  connection: Connection;
  clientAddr: string | null;
  logger: Logger;
  recorder: SessionRecorder;
  now: () => Date;
  /** The grant's holder, as reviews name requesters. */
  requester: Identity;
  /** The connection's policy: parser, guardrails, approval rules, masking rules. */
  policy: ConnectionPolicy;
  reviews: StatementReviews | undefined;
  /** HMAC key for the `hash` masking strategy. */
  hashKey: Buffer;
  /** How much of each statement's returned rows is kept as evidence. */
  capture: { rows: number; bytes: number };
}

export interface EngineSession {
  /** Settles when the session has ended and its end is recorded. Never rejects. */
  readonly done: Promise<void>;
  /** Ends the session with a native error telling the client why (grant revoked or expired, shutdown). */
  terminate(reason: HoopError): void;
}

export interface Engine {
  accept(client: Duplex, ctx: SessionContext): EngineSession;
  /** Reads just enough of the client's handshake to answer with a native error, then closes. */
  refuse(client: Duplex, reason: HoopError): Promise<void>;
}
