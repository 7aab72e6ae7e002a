/**
 * The start of a session through the gateway: the client's startup packet (or its CancelRequest), the checks on
 * what it asks for, the session's record and the login to the target side by side, then the greeting the client
 * gets: AuthenticationOk, the server's parameters, a cancel key of the gateway's own, ReadyForQuery.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import type { Duplex } from 'node:stream';
import { HoopError } from '../../../shared/errors.js';
import type { SessionContext } from '../engine.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { Catalog } from './catalog.js';
import { passedParams, readClientHello } from './client-startup.js';
import type { FrameSource } from './frame-source.js';
import { PolicyGate } from './policy-gate.js';
import {
  TransactionStatus, encodeAuthenticationOk, encodeBackendKeyData, encodeParameterStatus, encodeReadyForQuery,
} from './protocol/index.js';
import { ResultMasker } from './result-masker.js';
import { parseSessionOptions, unsafeParameter } from './session-options.js';
import { openUpstream, type Upstream } from './upstream.js';

/** What the handshake works with. */
export interface HandshakeIo {
  client: Duplex;
  /** The client's frames, still in the startup phase. */
  source: FrameSource;
  ctx: SessionContext;
  cancels: CancelRegistry;
  /** Resolves result column origins; null when the connection does not mask. */
  catalog: Catalog | null;
  /** Aborted when the session ends: stops the login, and a handshake that finds it aborted goes no further. */
  signal: AbortSignal;
  /** Handles a CancelRequest with the client's key before the target sees it: true when it was handled here. */
  interrupt: () => boolean;
}

/** The session's own connection to the target: only the socket and its frame source are needed after the login. */
export type SessionUpstream = Pick<Upstream, 'socket' | 'source'>;

/**
 * What the handshake has set up so far, filled in as it goes: a handshake that fails halfway still has its
 * upstream closed, and its session's end recorded once the start is.
 */
export interface Opening {
  /** The session's start is recorded: its end must be too. */
  recorded: boolean;
  upstream: SessionUpstream | undefined;
}

/** What the session needs to relay, once the handshake is done. */
export interface Opened {
  gate: PolicyGate;
  masker: ResultMasker | undefined;
  /** Forgets the cancel key the client was given; undefined when the target gave no key. */
  releaseCancelKey: (() => void) | undefined;
  /** For the client; the session sends it, then reads the client's messages past the startup phase. */
  greeting: Buffer[];
}

/**
 * The handshake: the client's startup packet, the session's record and the login to the target, then the
 * greeting. Returns what the session relays with; null when the session ended (the client left, or sent a
 * cancel, or the session was closed meanwhile). Throws a refusal, for the session to send as a FATAL error.
 */
export async function openSession(io: HandshakeIo, opening: Opening): Promise<Opened | null> {
  const { client, ctx } = io;
  const log = ctx.logger;
  const hello = await readClientHello(client, io.source);
  if (hello.kind === 'gone') return null;
  if (hello.kind === 'cancel') {
    await io.cancels.cancel(hello.pid, hello.secret, ctx.subject).catch((e: unknown) => log.warn('cancel failed', { error: e }));
    client.end();
    return null;
  }
  if (hello.params.replication && hello.params.replication !== 'false') {
    throw new HoopError('access_denied', 'replication connections are not allowed through hoop');
  }
  const options = parseSessionOptions(hello.params.options);
  for (const [k, v] of Object.entries(hello.params)) {
    const why = unsafeParameter(k, v);
    if (why) throw new HoopError('usage', why, { hint: 'connect with client_encoding UTF8' });
  }
  // The session's record and the login to the target run side by side; the client hears nothing until both
  // are done, and a session that cannot be recorded is refused (its upstream closed unused).
  const recorded = ctx.recorder.sessionStarted({
    id: ctx.sessionId,
    connection: ctx.connection.name,
    subject: ctx.subject,
    grantId: ctx.grantId,
    clientApplication: hello.params.application_name ?? null,
    clientUser: hello.params.user ?? null,
    database: hello.params.database ?? null,
    clientAddr: ctx.clientAddr,
    startedAt: ctx.now(),
  });
  const login = openUpstream({ target: ctx.connection, clientParams: passedParams(hello.params), signal: io.signal });
  const [rec, upstream] = await Promise.allSettled([recorded, login]);
  if (rec.status === 'fulfilled') opening.recorded = true;
  if (rec.status === 'rejected' || upstream.status === 'rejected') {
    if (upstream.status === 'fulfilled') upstream.value.socket.destroy();
    throw rec.status === 'rejected' ? rec.reason : (upstream as PromiseRejectedResult).reason;
  }
  log.info('session started', { application: hello.params.application_name });
  const up = upstream.value;
  // Only the socket and its frame source are needed from here on (the parameters go into the greeting).
  opening.upstream = { socket: up.socket, source: up.source };
  up.socket.on('error', (e) => log.debug('upstream socket error', { error: e }));
  if (io.signal.aborted) return null;
  for (const [name, value] of up.parameters) {
    const why = unsafeParameter(name, value);
    if (why) throw new HoopError('upstream_unavailable', `${ctx.connection.name} runs with ${why}`, { hint: 'an operator should fix the database or role settings' });
  }
  const policy = ctx.policy;
  const gate = new PolicyGate(policy, ctx.reviews, {
    requester: ctx.requester,
    connection: ctx.connection.name,
    sessionId: ctx.sessionId,
    approvalWaitMs: options.approvalWaitMs,
    reviewId: options.reviewId,
  });
  const masker = policy.masking && io.catalog ? new ResultMasker(policy.masking, io.catalog, ctx.hashKey) : undefined;

  const greeting: Buffer[] = [encodeAuthenticationOk()];
  for (const [name, value] of up.parameters) greeting.push(encodeParameterStatus(name, value));
  let releaseCancelKey: (() => void) | undefined;
  if (up.backendKey) {
    // Ctrl-C while a statement is held for approval stops the wait (the statement does not run).
    const k = io.cancels.register(ctx.subject, ctx.connection, up.backendKey, io.interrupt);
    releaseCancelKey = k.release;
    greeting.push(encodeBackendKeyData(k.pid, k.secret));
  }
  greeting.push(encodeReadyForQuery(TransactionStatus.Idle));
  return { gate, masker, releaseCancelKey, greeting };
}
