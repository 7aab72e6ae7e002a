/**
 * One client session through the gateway: handshake with the client, login upstream with the gateway's
 * credentials, then relay in both directions while recording each statement. The start of a statement is
 * recorded before the statement is forwarded; if that fails, the statement is refused (fail closed).
 *
 * Messages pass through as the bytes that came in (whole frames only, so the gateway can add its own messages
 * between them at any time). Both sides are torn down exactly once.
 */
import type { Duplex } from 'node:stream';
import { HoopError, toHoopError } from '../../../shared/errors.js';
import type { SessionContext } from '../engine.js';
import type { CancelRegistry } from './cancel-registry.js';
import { passedParams, readClientHello } from './client-startup.js';
import { FrameSource } from './frame-source.js';
import {
  BackendTag, FrontendTag, MAX_STARTUP_LENGTH, TransactionStatus, createFramer, decodeBackend, decodeFrontend,
  encodeAuthenticationOk, encodeBackendKeyData, encodeErrorResponse, encodeParameterStatus, encodeReadyForQuery, encodeTerminate,
  type Frame, type TransactionStatusValue,
} from './protocol/index.js';
import { routineFor, sqlStateFor } from './sqlstate.js';
import { StatementTracker, type FinishedStatement, type TrackedStatement } from './statement-tracker.js';
import { openUpstream, type Upstream } from './upstream.js';
import { writeFrames } from './write-batch.js';

export interface SessionLimits {
  /** Largest client message after startup. */
  maxClientFrame: number;
}

export interface PostgresSessionDeps {
  cancels: CancelRegistry;
  limits: SessionLimits;
}

/** Gateway-made messages that must reach the client right before or after the server's ReadyForQuery number `ready`. */
interface Injection {
  ready: number;
  position: 'before' | 'after';
  frames: Buffer[];
  /** Append a ReadyForQuery with the transaction status current at that time. */
  withReady: boolean;
}

export class PostgresSession {
  readonly #client: Duplex;
  readonly #ctx: SessionContext;
  readonly #deps: PostgresSessionDeps;
  readonly #tracker: StatementTracker;
  readonly #abort = new AbortController();
  #upstream: Upstream | undefined;
  #clientSource: FrameSource;
  #closed = false;
  #endReason = 'client disconnected';
  #bytesToClient = 0;
  #txStatus: TransactionStatusValue = TransactionStatus.Idle;
  /** ReadyForQuery answers the server owes (Query and Sync forwarded) and has given. */
  #readyOwed = 0;
  #readySeen = 0;
  /** Our own messages waiting for the server's answers before them to reach the client. */
  #injections: Injection[] = [];
  /** Extended protocol: after a refused message, client messages are discarded up to Sync. */
  #discarding = false;
  #forwardedSinceSync = false;
  #releaseCancelKey: (() => void) | undefined;

  constructor(client: Duplex, ctx: SessionContext, deps: PostgresSessionDeps) {
    this.#client = client;
    this.#ctx = ctx;
    this.#deps = deps;
    this.#tracker = new StatementTracker(() => ctx.now().getTime());
    this.#clientSource = new FrameSource(client, createFramer({ startup: true, maxLength: MAX_STARTUP_LENGTH }));
    client.on('error', (e) => ctx.logger.debug('client stream error', { error: e }));
  }

  /** Runs the session to its end. Never rejects. */
  async run(): Promise<void> {
    const log = this.#ctx.logger;
    let started = false;
    try {
      const hello = await readClientHello(this.#client, this.#clientSource);
      if (hello.kind === 'gone') return;
      if (hello.kind === 'cancel') {
        await this.#deps.cancels.cancel(hello.pid, hello.secret, this.#ctx.subject).catch((e: unknown) => log.warn('cancel failed', { error: e }));
        this.#client.end();
        return;
      }
      if (hello.params.replication && hello.params.replication !== 'false') {
        throw new HoopError('access_denied', 'replication connections are not allowed through hoop');
      }
      await this.#ctx.recorder.sessionStarted({
        id: this.#ctx.sessionId,
        connection: this.#ctx.connection.name,
        subject: this.#ctx.subject,
        grantId: this.#ctx.grantId,
        clientApplication: hello.params.application_name ?? null,
        clientUser: hello.params.user ?? null,
        database: hello.params.database ?? null,
        clientAddr: this.#ctx.clientAddr,
        startedAt: this.#ctx.now(),
      });
      started = true;
      log.info('session started', { application: hello.params.application_name });

      const up = await openUpstream({ target: this.#ctx.connection, clientParams: passedParams(hello.params), signal: this.#abort.signal });
      this.#upstream = up;
      up.socket.on('error', (e) => log.debug('upstream socket error', { error: e }));
      if (this.#closed) return;

      const greeting: Buffer[] = [encodeAuthenticationOk()];
      for (const [name, value] of up.parameters) greeting.push(encodeParameterStatus(name, value));
      if (up.backendKey) {
        const k = this.#deps.cancels.register(this.#ctx.subject, this.#ctx.connection, up.backendKey);
        this.#releaseCancelKey = k.release;
        greeting.push(encodeBackendKeyData(k.pid, k.secret));
      }
      greeting.push(encodeReadyForQuery(TransactionStatus.Idle));
      this.#toClient(greeting);

      this.#clientSource.leaveStartup();
      this.#clientSource.framer.setMaxLength(this.#deps.limits.maxClientFrame);
      await Promise.race([this.#clientToServer(), this.#serverToClient()]);
    } catch (e) {
      const err = toHoopError(e);
      if (!this.#closed) {
        this.#endReason = `${err.code}: ${err.message}`;
        if (err.code === 'internal') log.error('session failed', { error: e });
        else log.info('session refused', { code: err.code, message: err.message });
        this.#sendFatal(err);
      }
    } finally {
      this.#teardown();
      if (started) await this.#recordEnd();
    }
  }

  /** Ends the session with a FATAL error naming the reason (grant revoked or expired, gateway shutdown). */
  terminate(reason: HoopError): void {
    if (this.#closed) return;
    this.#endReason = `${reason.code}: ${reason.message}`;
    this.#sendFatal(reason);
    this.#teardown();
  }

  async #clientToServer(): Promise<void> {
    const src = this.#clientSource;
    for (;;) {
      const frames = await src.nextBatch();
      if (!frames || this.#closed) return;
      const out: Buffer[] = [];
      for (const f of frames) {
        const keep = await this.#fromClient(f);
        if (keep === 'end') {
          await writeFrames(this.#upstream!.socket, out);
          return;
        }
        if (keep) out.push(f.raw);
      }
      await writeFrames(this.#upstream!.socket, out);
    }
  }

  /** Decides one client message: forward it (true), drop it (false), or end the session. */
  async #fromClient(f: Frame): Promise<boolean | 'end'> {
    const tag = f.tag!;
    if (this.#discarding) {
      if (tag !== FrontendTag.Sync) return false;
      this.#discarding = false;
      if (!this.#forwardedSinceSync) {
        this.#inOrder([], true);
        return false;
      }
    }
    switch (tag) {
      case FrontendTag.Query: {
        const m = decodeFrontend(tag, f.body) as { sql: string };
        const stmt = this.#tracker.query(m.sql);
        if (!(await this.#recordStart(stmt))) {
          this.#refuse(this.#auditError(), 'simple');
          return false;
        }
        this.#readyOwed++;
        return true;
      }
      case FrontendTag.Parse: {
        const m = decodeFrontend(tag, f.body) as { name: string; sql: string };
        this.#tracker.parse(m.name, m.sql);
        break;
      }
      case FrontendTag.Bind: {
        const m = decodeFrontend(tag, f.body) as { portal: string; statement: string; params: (Buffer | null)[]; paramFormats: number[] };
        this.#tracker.bind(m.portal, m.statement, m.params, m.paramFormats);
        break;
      }
      case FrontendTag.Close: {
        const m = decodeFrontend(tag, f.body) as { target: 'S' | 'P'; name: string };
        this.#tracker.close(m.target, m.name);
        break;
      }
      case FrontendTag.Execute: {
        const m = decodeFrontend(tag, f.body) as { portal: string };
        const stmt = this.#tracker.execute(m.portal);
        if (!(await this.#recordStart(stmt))) {
          this.#refuse(this.#auditError(), 'extended');
          return false;
        }
        break;
      }
      case FrontendTag.FunctionCall: {
        const m = decodeFrontend(tag, f.body) as { oid: number };
        const stmt = this.#tracker.query(`-- fast-path function call, oid ${m.oid}`);
        if (!(await this.#recordStart(stmt))) {
          this.#refuse(this.#auditError(), 'simple');
          return false;
        }
        this.#readyOwed++;
        return true;
      }
      case FrontendTag.Sync:
        this.#tracker.sync();
        this.#readyOwed++;
        this.#forwardedSinceSync = false;
        return true;
      case FrontendTag.Terminate:
        this.#endReason = 'client terminated';
        return 'end';
      default:
        break;
    }
    this.#forwardedSinceSync = true;
    return true;
  }

  /**
   * Refuses the message just read. Simple protocol: ErrorResponse and ReadyForQuery. Extended protocol:
   * ErrorResponse, then everything up to Sync is discarded and ReadyForQuery follows. When the server still owes
   * answers to earlier messages, ours wait behind them so the client sees replies in order.
   */
  #refuse(err: HoopError, protocol: 'simple' | 'extended'): void {
    const error = encodeErrorResponse({
      severity: 'ERROR', code: sqlStateFor(err.code), message: err.message, routine: routineFor(err.code), ...(err.hint ? { hint: err.hint } : {}),
    });
    if (protocol === 'simple') return this.#inOrder([error], true);
    this.#discarding = true;
    if (this.#forwardedSinceSync) {
      // The server still answers the earlier part of this pipeline; our error goes right before the
      // ReadyForQuery it will send for the Sync that ends the pipeline.
      this.#injections.push({ ready: this.#readyOwed + 1, position: 'before', frames: [error], withReady: false });
    } else {
      this.#inOrder([error], false);
    }
  }

  /** Sends gateway-made messages now, or after the server's outstanding answers when it still owes some. */
  #inOrder(frames: Buffer[], withReady: boolean): void {
    if (this.#readyOwed === this.#readySeen) {
      this.#toClient(withReady ? [...frames, encodeReadyForQuery(this.#txStatus)] : frames);
    } else {
      this.#injections.push({ ready: this.#readyOwed, position: 'after', frames, withReady });
    }
  }

  async #serverToClient(): Promise<void> {
    const src = this.#upstream!.source;
    for (;;) {
      const frames = await src.nextBatch();
      if (!frames) {
        if (!this.#closed) {
          this.#endReason = 'server closed the connection';
          await writeFrames(this.#client, []);
        }
        return;
      }
      const out: Buffer[] = [];
      for (const f of frames) {
        switch (f.tag) {
          case BackendTag.CommandComplete:
            this.#finished(this.#tracker.commandComplete((decodeBackend(f.tag, f.body) as { tag: string }).tag));
            break;
          case BackendTag.ErrorResponse:
            this.#finished(this.#tracker.error((decodeBackend(f.tag, f.body) as { fields: Record<string, string> }).fields));
            break;
          case BackendTag.EmptyQueryResponse:
            this.#finished(this.#tracker.emptyQuery());
            break;
          case BackendTag.PortalSuspended:
            this.#finished(this.#tracker.portalSuspended());
            break;
          case BackendTag.ReadyForQuery: {
            this.#txStatus = (decodeBackend(f.tag, f.body) as { status: TransactionStatusValue }).status;
            this.#finished(this.#tracker.ready());
            this.#readySeen++;
            const due = this.#injections.filter((i) => i.ready <= this.#readySeen);
            if (due.length) this.#injections = this.#injections.filter((i) => i.ready > this.#readySeen);
            for (const i of due) if (i.position === 'before') out.push(...i.frames);
            out.push(f.raw);
            for (const i of due) {
              if (i.position !== 'after') continue;
              out.push(...i.frames);
              if (i.withReady) out.push(encodeReadyForQuery(this.#txStatus));
            }
            continue;
          }
          default:
            break;
        }
        out.push(f.raw);
      }
      this.#bytesToClient += out.reduce((n, b) => n + b.length, 0);
      await writeFrames(this.#client, out);
    }
  }

  async #recordStart(stmt: TrackedStatement): Promise<boolean> {
    try {
      await this.#ctx.recorder.statementStarted({
        sessionId: this.#ctx.sessionId,
        seq: stmt.seq,
        text: stmt.text,
        parameters: stmt.parameters,
        protocol: stmt.protocol,
        startedAt: new Date(stmt.startedAt),
        decision: 'allow',
      });
      return true;
    } catch (e) {
      this.#ctx.logger.error('statement refused: it could not be recorded', { error: e, seq: stmt.seq });
      this.#tracker.discard(stmt.seq);
      return false;
    }
  }

  #auditError(): HoopError {
    return new HoopError('audit_unavailable', 'hoop: the statement was not run because the audit store could not record it', {
      hint: 'try again shortly; if it persists, ask an operator to check the gateway database',
    });
  }

  #finished(done: FinishedStatement[]): void {
    for (const s of done) {
      this.#ctx.recorder
        .statementFinished({
          sessionId: this.#ctx.sessionId,
          seq: s.seq,
          durationMs: s.durationMs,
          rows: s.rows,
          commandTag: s.commandTag,
          errorCode: s.errorCode,
          errorMessage: s.errorMessage,
        })
        .catch((e: unknown) => this.#ctx.logger.error('cannot record a statement outcome', { error: e, seq: s.seq }));
    }
  }

  #toClient(frames: Buffer[]): void {
    if (this.#client.destroyed || this.#client.writableEnded) return;
    this.#bytesToClient += frames.reduce((n, b) => n + b.length, 0);
    void writeFrames(this.#client, frames);
  }

  #sendFatal(err: HoopError): void {
    const message = err.message.startsWith('hoop:') ? err.message : `hoop: ${err.message}`;
    const code = err.code === 'grant_revoked' || err.code === 'grant_expired' ? '57P01' : sqlStateFor(err.code);
    this.#toClient([encodeErrorResponse({ severity: 'FATAL', code, message, routine: routineFor(err.code), ...(err.hint ? { hint: err.hint } : {}) })]);
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#releaseCancelKey?.();
    const up = this.#upstream;
    if (up && !up.socket.destroyed) {
      up.socket.end(encodeTerminate());
      setTimeout(() => up.socket.destroy(), 1000).unref();
    }
    if (!this.#client.destroyed) {
      this.#client.end();
      setTimeout(() => this.#client.destroy(), 1000).unref();
    }
  }

  async #recordEnd(): Promise<void> {
    this.#finished(this.#tracker.drain());
    await this.#ctx.recorder
      .sessionEnded(this.#ctx.sessionId, {
        endedAt: this.#ctx.now(),
        reason: this.#endReason,
        bytesFromClient: this.#clientSource.bytes,
        bytesToClient: this.#bytesToClient,
        statementCount: this.#tracker.count,
      })
      .catch((e: unknown) => this.#ctx.logger.error('cannot record the end of a session', { error: e }));
    this.#ctx.logger.info('session ended', { reason: this.#endReason, statements: this.#tracker.count });
  }
}
