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
import { ApprovalHold, unapprovable } from './approval-hold.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { Catalog } from './catalog.js';
import { CopyInState, isCopyIn } from './copy-in-state.js';
import { encodeFatal, encodeRefusal } from './error-frames.js';
import { abortedError, encodeParse, inFailedTransaction } from './failed-transaction.js';
import { FrameSource } from './frame-source.js';
import {
  BackendTag, FrontendTag, MAX_STARTUP_LENGTH, TransactionStatus, createFramer, decodeBackend, decodeFrontend,
  encodeNoticeResponse, encodeQuery, encodeReadyForQuery, encodeTerminate, wireBytes,
  type Frame, type TransactionStatusValue,
} from './protocol/index.js';
import { StatementTracker, type FinishedStatement } from './statement-tracker.js';
import { writeFrames } from './write-batch.js';
import type { ApprovalOutcome, PolicyGate, Verdict } from './policy-gate.js';
import { ResultMasker } from './result-masker.js';
import { ResultCapture } from './result-capture.js';
import { ReplyOrder } from './reply-order.js';
import { unsafeParameter } from './session-options.js';
import { openSession, type Opened, type Opening, type SessionUpstream } from './session-handshake.js';
import { auditError, recordFinished, recordRefused, recordSessionEnd, recordStart } from './statement-records.js';
import { paramsAsText } from './statement-tracker.js';
import type { ApprovalRule } from '../../policy/guardrails.js';
import { ExtendedNames } from './extended-names.js';
import { RELEASE_TAGS, type Portal, type Prepared, type SessionNames } from './prepared-statements.js';

export interface SessionLimits {
  /** Largest client message after startup. */
  maxClientFrame: number;
}

export interface PostgresSessionDeps {
  cancels: CancelRegistry;
  limits: SessionLimits;
  /** Resolves result column origins; null when the connection does not mask. */
  catalog: Catalog | null;
}

export class PostgresSession {
  readonly #client: Duplex;
  readonly #ctx: SessionContext;
  readonly #deps: PostgresSessionDeps;
  readonly #tracker: StatementTracker;
  readonly #abort = new AbortController();
  #upstream: SessionUpstream | undefined;
  /** The session's start is recorded: its end must be too. */
  #recorded = false;
  #clientSource: FrameSource;
  #closed = false;
  #endReason = 'client disconnected';
  #bytesToClient = 0;
  #txStatus: TransactionStatusValue = TransactionStatus.Idle;
  /**
   * A statement refused inside a transaction block fails the client's transaction, as a server error would:
   * until ROLLBACK the client sees status E, statements are refused (25P02), and COMMIT becomes ROLLBACK, so
   * work done before the refusal is never committed behind the client's back.
   */
  #aborted = false;
  /** The server's answers owed and given, and our own messages waiting behind them. */
  readonly #replies = new ReplyOrder();
  /** COPY FROM STDIN, followed so its Syncs are counted right. Made on the session's first such COPY. */
  #copyIn: CopyInState | undefined;
  /** Extended protocol: after a refused message, client messages are discarded up to Sync. */
  #discarding = false;
  #forwardedSinceSync = false;
  #releaseCancelKey: (() => void) | undefined;
  #gate: PolicyGate | undefined;
  #capture: ResultCapture;
  #masker: ResultMasker | undefined;
  /**
   * Prepared statements and portals by name, as the server has them (changes take effect when it confirms
   * them). Made on first use: a session that only sends simple queries never needs them, and an empty Map
   * costs about 200 bytes for as long as the session lasts.
   */
  #names: SessionNames | undefined;
  /** Statements held or waiting for approval. Made on first use: most connections have no approval rules. */
  #approval: ApprovalHold | undefined;

  constructor(client: Duplex, ctx: SessionContext, deps: PostgresSessionDeps) {
    this.#client = client;
    this.#ctx = ctx;
    this.#deps = deps;
    this.#tracker = new StatementTracker(() => ctx.now().getTime());
    this.#capture = new ResultCapture(ctx.capture);
    this.#clientSource = new FrameSource(client, createFramer({ startup: true, maxLength: MAX_STARTUP_LENGTH }));
    client.on('error', (e) => ctx.logger.debug('client stream error', { error: e }));
    // A client that goes away while its statement waits for a review must not have it run later.
    client.on('close', () => this.#approval?.interrupt()); // `on`: 'close' comes once; `once` adds a wrapper
  }

  /** Runs the session to its end. Never rejects. */
  async run(): Promise<void> {
    try {
      // Opening and relaying are separate calls so that, while the session idles, nothing of the handshake (the
      // client's startup packet, the greeting) stays referenced by a suspended frame.
      if (await this.#open()) await Promise.race([this.#clientToServer(), this.#serverToClient()]);
    } catch (e) {
      const err = toHoopError(e);
      const log = this.#ctx.logger;
      if (!this.#closed) {
        this.#endReason = `${err.code}: ${err.message}`;
        if (err.code === 'internal') log.error('session failed', { error: e });
        else log.info('session refused', { code: err.code, message: err.message });
        this.#sendFatal(err);
      }
    } finally {
      this.#teardown();
      if (this.#recorded) await this.#recordEnd();
    }
  }

  /**
   * The handshake (see session-handshake.ts). True when the session is ready to relay; false when it ended (the
   * client left, or sent a cancel).
   */
  async #open(): Promise<boolean> {
    const opening: Opening = { recorded: false, upstream: undefined };
    let opened: Opened | null;
    try {
      opened = await openSession({
        client: this.#client, source: this.#clientSource, ctx: this.#ctx, cancels: this.#deps.cancels, catalog: this.#deps.catalog,
        signal: this.#abort.signal, interrupt: () => this.#approval?.interrupt() ?? false,
      }, opening);
    } finally {
      // Also when the handshake fails halfway: the upstream is closed, and a recorded start gets its end.
      this.#recorded = opening.recorded;
      this.#upstream = opening.upstream;
      // Closed meanwhile (a revoked grant, a shutdown): teardown ran before there was an upstream to close.
      if (this.#closed) opening.upstream?.socket.destroy();
    }
    if (!opened) return false;
    this.#gate = opened.gate;
    this.#masker = opened.masker;
    this.#releaseCancelKey = opened.releaseCancelKey;
    this.#toClient(opened.greeting);
    this.#clientSource.leaveStartup();
    this.#clientSource.framer.setMaxLength(this.#deps.limits.maxClientFrame);
    return true;
  }

  /** Ends the session with a FATAL error naming the reason (grant revoked or expired, gateway shutdown). */
  terminate(reason: HoopError): void {
    if (this.#closed) return;
    this.#endReason = `${reason.code}: ${reason.message}`;
    this.#sendFatal(reason);
    this.#teardown();
  }

  /*
   * Each direction is a loop over one call per batch. A suspended async function keeps every value its frame
   * ever held, so a loop that waited for the next batch in the same frame would keep the previous batch (and the
   * whole socket chunk under it, up to 64 KiB) alive for as long as the session idles.
   */
  async #clientToServer(): Promise<void> {
    while (await this.#clientBatch()) {
      // next batch
    }
  }

  /** Reads one batch of client messages and forwards what is allowed. False at the end of the session. */
  async #clientBatch(): Promise<boolean> {
    const frames = await this.#clientSource.nextBatch();
    if (!frames || this.#closed) return false;
    const out: Buffer[] = [];
    for (const f of frames) {
      const forward = await this.#fromClient(f);
      if (forward === 'end') {
        await writeFrames(this.#upstream!.socket, out);
        return false;
      }
      out.push(...forward);
    }
    await writeFrames(this.#upstream!.socket, out);
    return true;
  }

  /** Decides one client message: the bytes to forward (none when refused or held), or the end of the session. */
  async #fromClient(f: Frame): Promise<Buffer[] | 'end'> {
    const tag = f.tag!;
    if (this.#approval?.holding) return this.#hold(f);
    if (this.#copyIn?.active) {
      const c = this.#copyIn.message(f);
      if (c) return c;
    }
    if (this.#discarding) {
      if (tag !== FrontendTag.Sync) return [];
      this.#discarding = false;
      if (!this.#forwardedSinceSync) {
        this.#inOrder([], true);
        return [];
      }
    }
    switch (tag) {
      case FrontendTag.Query: {
        const { sql } = decodeFrontend(tag, f.body) as { sql: string };
        const verdict = await this.#check(sql);
        this.#ctx.logger.debug('statement checked', { protocol: 'simple', action: verdict.action });
        if (this.#forwardedSinceSync) {
          // The server would answer it within the pipeline's answers; which result belongs to which statement
          // could then not be told for sure (masking, records), so the pipeline is refused as a server would.
          const err = new HoopError('usage', 'hoop: a simple Query inside an extended-protocol pipeline (after Parse, Bind or Execute, before Sync) is not supported; send Sync first', {
            details: { sqlstate: '08P01' },
          });
          return this.#refuseStatement(sql, null, 'extended', 'block', { rule: 'protocol' }, err);
        }
        if (this.#aborted) {
          const ok = inFailedTransaction(verdict.facts, sql);
          if (!ok) return this.#refuseStatement(sql, null, 'simple', 'block', { rule: 'failed_transaction' }, abortedError());
          const stmt = this.#tracker.query(sql);
          if (!(await recordStart(this.#ctx, this.#tracker, stmt, 'allow', ok.forward === sql ? {} : { forwarded_as: ok.forward }))) {
            this.#refuse(auditError(), 'simple');
            return [];
          }
          this.#aborted = false;
          this.#masker?.query([]);
          this.#replies.owe();
          return [ok.forward === sql ? f.raw : encodeQuery(ok.forward)];
        }
        let decision = 'allow';
        let details: Record<string, unknown> = {};
        if (verdict.action === 'block') return this.#refuseStatement(sql, null, 'simple', 'block', { rule: verdict.rule }, verdict.error);
        if (verdict.action === 'approve') {
          const outcome = await this.#awaitApproval(verdict.rule, sql, null);
          if (!outcome.approved) {
            return this.#refuseStatement(sql, null, 'simple', outcome.decision, { rule: verdict.rule.name, review_id: outcome.reviewId }, outcome.error);
          }
          decision = 'approved';
          details = { rule: verdict.rule.name, review_id: outcome.reviewId };
        }
        const stmt = this.#tracker.query(sql);
        if (!(await recordStart(this.#ctx, this.#tracker, stmt, decision, details))) {
          this.#refuse(auditError(), 'simple');
          return [];
        }
        this.#masker?.query(verdict.facts);
        if (verdict.facts.some(isCopyIn)) (this.#copyIn ??= new CopyInState()).start(false, this.#replies.owed);
        for (const x of verdict.facts) if (x.releases !== undefined) (this.#names ??= new ExtendedNames()).release(x.releases, this.#replies.owed);
        this.#replies.owe();
        return [f.raw];
      }
      case FrontendTag.Parse: {
        const m = decodeFrontend(tag, f.body) as { name: string; sql: string };
        let decision = 'allow';
        let details: Record<string, unknown> = {};
        let facts: Verdict['facts'];
        const approved = this.#approval?.takePreapproved(m.sql);
        if (approved) {
          details = approved;
          decision = 'approved';
          facts = (await this.#check(m.sql)).facts;
        } else {
          const verdict = await this.#check(m.sql);
          facts = verdict.facts;
          if (this.#aborted) {
            const ok = inFailedTransaction(facts, m.sql);
            if (!ok) return this.#refuseStatement(m.sql, null, 'extended', 'block', { rule: 'failed_transaction' }, abortedError());
            this.#aborted = false;
            if (ok.forward !== m.sql) {
              this.#parsed(m.name, { sql: ok.forward, decision: 'allow', details: { client_sql: m.sql }, spent: false, mask: this.#masker?.statement(undefined, ok.forward) });
              this.#forwardedSinceSync = true;
              return [encodeParse(m.name, ok.forward)];
            }
          }
          if (verdict.action === 'block') return this.#refuseStatement(m.sql, null, 'extended', 'block', { rule: verdict.rule }, verdict.error);
          if (verdict.action === 'approve') {
            (this.#approval ??= new ApprovalHold()).hold(f, m.name, m.sql, verdict.rule);
            return [];
          }
        }
        this.#parsed(m.name, { sql: m.sql, decision, details, spent: false, copyIn: facts.some(isCopyIn), releases: facts[0]?.releases, mask: this.#masker?.statement(facts[0], m.sql) });
        break;
      }
      case FrontendTag.Bind: {
        const m = decodeFrontend(tag, f.body) as { portal: string; statement: string; params: (Buffer | null)[]; paramFormats: number[]; resultFormats: number[] };
        const st = this.#names?.statement(m.statement);
        const text = st?.sql ?? `(prepared statement "${m.statement}")`;
        if (st?.spent) {
          const err = new HoopError('blocked', 'hoop: this prepared statement ran under an approval, which covers one execution; send it again to ask for a new review (rule approval)');
          return this.#refuseStatement(text, null, 'extended', 'block', { rule: 'approval' }, err);
        }
        const parameters = paramsAsText(m.params, m.paramFormats);
        const portal: Portal = {
          text, parameters, statement: st, ran: false,
          decision: st?.decision ?? 'allow', details: st?.details ?? {}, mask: this.#masker?.portal(st?.mask, m.resultFormats, parameters),
        };
        (this.#names ??= new ExtendedNames()).bind(m.portal, portal, this.#replies.owed);
        break;
      }
      case FrontendTag.Describe: {
        const m = decodeFrontend(tag, f.body) as { target: 'S' | 'P'; name: string };
        this.#masker?.describe(m.target === 'S' ? this.#names?.statement(m.name)?.mask : this.#names?.portal(m.name)?.mask);
        break;
      }
      case FrontendTag.Close: {
        const m = decodeFrontend(tag, f.body) as { target: 'S' | 'P'; name: string };
        (this.#names ??= new ExtendedNames()).close(m.target, m.name, this.#replies.owed);
        break;
      }
      case FrontendTag.Execute: {
        const m = decodeFrontend(tag, f.body) as { portal: string };
        const p = this.#names?.portal(m.portal);
        if (p?.decision === 'approved' && (p.ran || p.statement?.spent)) {
          const err = new HoopError('blocked', 'hoop: this portal ran under an approval, which covers one execution; send the statement again to ask for a new review (rule approval)');
          return this.#refuseStatement(p.text, p.parameters, 'extended', 'block', { rule: 'approval' }, err);
        }
        const stmt = this.#tracker.execute(p?.text ?? `(portal "${m.portal}")`, p?.parameters ?? null);
        if (p?.decision === 'approved') {
          // One execution: neither the statement (bound again) nor this portal (executed again) runs once more.
          p.ran = true;
          if (p.statement) p.statement.spent = true;
        }
        if (!(await recordStart(this.#ctx, this.#tracker, stmt, p?.decision ?? 'allow', p?.details ?? {}))) {
          this.#refuse(auditError(), 'extended');
          return [];
        }
        this.#masker?.execute(p?.mask);
        if (p?.statement?.copyIn) (this.#copyIn ??= new CopyInState()).start(true, this.#replies.owed);
        if (p?.statement?.releases !== undefined) this.#names!.release(p.statement.releases, this.#replies.owed);
        break;
      }
      case FrontendTag.FunctionCall: {
        // The fast-path interface calls a function by OID, out of the parser's sight: refused on every connection.
        const m = decodeFrontend(tag, f.body) as { oid: number };
        const err = new HoopError('blocked', 'hoop: fast-path function calls are not allowed (rule function_call)', { hint: 'call the function in a SQL statement' });
        return this.#refuseStatement(`-- fast-path function call, oid ${m.oid}`, null, 'simple', 'block', { rule: 'function_call' }, err);
      }
      case FrontendTag.Sync:
        this.#tracker.sync();
        this.#masker?.sync();
        this.#replies.owe();
        this.#forwardedSinceSync = false;
        return [f.raw];
      case FrontendTag.Terminate:
        this.#endReason = 'client terminated';
        return 'end';
      case FrontendTag.CopyData:
      case FrontendTag.CopyDone:
      case FrontendTag.CopyFail:
        return [f.raw]; // COPY FROM STDIN's data: part of whichever protocol started the COPY
      default:
        break;
    }
    this.#forwardedSinceSync = true;
    return [f.raw];
  }

  /** The server answered a COPY FROM STDIN that was starting, or failed it: Syncs sent meanwhile may count after all. */
  #copyInAnswer(tag: number): void {
    const syncs = this.#copyIn?.answer(tag) ?? 0;
    for (let i = 0; i < syncs; i++) {
      this.#tracker.sync();
      this.#masker?.sync();
      this.#replies.owe();
    }
  }

  /** A Parse forwarded (or about to be): the statement, under its name once the server confirms it. */
  #parsed(name: string, st: Prepared): void {
    (this.#names ??= new ExtendedNames()).parse(name, st, this.#replies.owed);
  }

  #clientStatus(): TransactionStatusValue {
    return this.#aborted ? TransactionStatus.Failed : this.#txStatus;
  }

  #check(sql: string): Promise<Verdict> {
    return this.#gate!.check(sql);
  }

  /**
   * A pipeline whose statement needs approval is held until its Sync (so the Bind parameters are known and part
   * of what is approved). Approved: the pipeline is replayed through the gate, the held statement let through
   * once. Otherwise: an error naming the review, and nothing of the pipeline reaches the server.
   */
  async #hold(f: Frame): Promise<Buffer[] | 'end'> {
    const approval = this.#approval!;
    if (f.tag === FrontendTag.Terminate) return 'end';
    const held = approval.add(f);
    if (!held) return [];
    const refusal = unapprovable(held);
    if (refusal) {
      this.#refuseStatement(held.sql, held.params, 'extended', 'block', { rule: held.rule.name }, refusal);
      return this.#fromClient(f);
    }
    const outcome = await this.#awaitApproval(held.rule, held.sql, held.params);
    if (!outcome.approved) {
      this.#refuseStatement(held.sql, held.params, 'extended', outcome.decision, { rule: held.rule.name, review_id: outcome.reviewId }, outcome.error);
      return this.#fromClient(f); // the Sync, now discarding: answered with ReadyForQuery
    }
    approval.preapprove(held.sql, { rule: held.rule.name, review_id: outcome.reviewId });
    const out: Buffer[] = [];
    for (const h of held.frames) {
      const r = await this.#fromClient(h);
      if (r === 'end') return 'end';
      out.push(...r);
    }
    return out;
  }

  /** Waits for the review; the client's disconnect or CancelRequest ends the wait (the statement does not run). */
  #awaitApproval(rule: ApprovalRule, sql: string, params: (string | null)[] | null): Promise<ApprovalOutcome> {
    return (this.#approval ??= new ApprovalHold()).awaitApproval(this.#gate!, rule, sql, params, (t) => this.#notice(t), this.#abort.signal);
  }

  /** Records a statement that was not run, and refuses it. */
  #refuseStatement(
    sql: string, params: (string | null)[] | null, protocol: 'simple' | 'extended', decision: string,
    details: Record<string, unknown>, err: HoopError,
  ): Buffer[] {
    const stmt = this.#tracker.refused(sql, params, protocol);
    recordRefused(this.#ctx, stmt, decision, details, err);
    this.#ctx.logger.info('statement refused', { decision, ...details });
    this.#refuse(err, protocol);
    return [];
  }

  #notice(text: string): void {
    this.#toClient([encodeNoticeResponse({ severity: 'NOTICE', code: '01000', message: text })]);
  }

  /**
   * Refuses the message just read. Simple protocol: ErrorResponse and ReadyForQuery. Extended protocol:
   * ErrorResponse, then everything up to Sync is discarded and ReadyForQuery follows. When the server still owes
   * answers to earlier messages, ours wait behind them so the client sees replies in order.
   */
  #refuse(err: HoopError, protocol: 'simple' | 'extended'): void {
    if (this.#txStatus !== TransactionStatus.Idle) this.#aborted = true;
    const error = encodeRefusal(err);
    if (protocol === 'simple') return this.#inOrder([error], true);
    this.#discarding = true;
    if (this.#forwardedSinceSync) {
      // The server still answers the earlier part of this pipeline; our error goes right before the
      // ReadyForQuery it will send for the Sync that ends the pipeline.
      this.#replies.beforePipelineEnd([error]);
    } else {
      this.#inOrder([error], false);
    }
  }

  /** Sends gateway-made messages now, or after the server's outstanding answers when it still owes some. */
  #inOrder(frames: Buffer[], withReady: boolean): void {
    if (this.#replies.answered) {
      this.#toClient(withReady ? [...frames, encodeReadyForQuery(this.#clientStatus())] : frames);
    } else {
      this.#replies.afterAnswers(frames, withReady);
    }
  }

  async #serverToClient(): Promise<void> {
    while (await this.#serverBatch()) {
      // next batch
    }
  }

  /**
   * Reads one batch of server messages and passes them on (masked, recorded). False when the server is gone.
   * A method of its own so that nothing of a batch stays referenced while the session waits for the next one.
   */
  async #serverBatch(): Promise<boolean> {
    const frames = await this.#upstream!.source.nextBatch();
    if (!frames) {
      if (!this.#closed) {
        this.#endReason = 'server closed the connection';
        await writeFrames(this.#client, []);
      }
      return false;
    }
    const out: Buffer[] = [];
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      if (f.tag === BackendTag.CopyData) {
        // A COPY sends a message per row: the run of them in this batch is masked, recorded and queued as one.
        let j = i + 1;
        while (j < frames.length && frames[j]!.tag === BackendTag.CopyData) j++;
        const run = i === 0 && j === frames.length ? frames : frames.slice(i, j);
        const data = this.#masker ? this.#masker.rewriteCopyData(run) : wireBytes(run);
        if (data.length) {
          this.#capture.copyData(data);
          out.push(data);
        }
        i = j - 1;
        continue;
      }
      let bytes: Buffer[] = [f.raw];
      if (this.#masker) {
        if (ResultMasker.needsPrepare(f.tag)) await this.#masker.prepare(f);
        bytes = this.#masker.rewrite(f);
      }
      // Evidence of what the client got: the forwarded frames, after masking (a CopyDone may flush CopyData).
      for (const b of bytes) {
        if (b[0] === BackendTag.DataRow) this.#capture.row(b);
        else if (b[0] === BackendTag.CopyData) this.#capture.copyData(b);
      }
      switch (f.tag) {
        case BackendTag.RowDescription:
          this.#capture.columns((decodeBackend(f.tag, f.body) as { fields: { name: string; format: number }[] }).fields);
          break;
        case BackendTag.CommandComplete: {
          const tag = (decodeBackend(f.tag, f.body) as { tag: string }).tag;
          if (RELEASE_TAGS.has(tag)) this.#names?.released();
          this.#finished(this.#tracker.commandComplete(tag));
          break;
        }
        case BackendTag.ErrorResponse: {
          // Recorded as the client got it: values the masker took out of the message stay out of the evidence.
          const body = bytes.length === 1 && bytes[0] !== f.raw ? bytes[0]!.subarray(5) : f.body;
          this.#finished(this.#tracker.error((decodeBackend(f.tag, body) as { fields: Record<string, string> }).fields));
          this.#names?.failed(this.#replies.seen);
          this.#copyInAnswer(f.tag);
          break;
        }
        case BackendTag.ParseComplete:
          this.#names?.confirmed('parse');
          break;
        case BackendTag.CopyInResponse:
          this.#copyInAnswer(f.tag);
          break;
        case BackendTag.BindComplete:
          this.#names?.confirmed('bind');
          break;
        case BackendTag.CloseComplete:
          this.#names?.confirmed('close');
          break;
        case BackendTag.EmptyQueryResponse:
          this.#finished(this.#tracker.emptyQuery());
          break;
        case BackendTag.PortalSuspended:
          this.#finished(this.#tracker.portalSuspended());
          break;
        case BackendTag.ParameterStatus: {
          const m = decodeBackend(f.tag, f.body) as { name: string; value: string };
          const why = unsafeParameter(m.name, m.value);
          if (why) throw new HoopError('blocked', `hoop: the session changed ${m.name}; ${why}`);
          break;
        }
        case BackendTag.ReadyForQuery: {
          this.#txStatus = (decodeBackend(f.tag, f.body) as { status: TransactionStatusValue }).status;
          if (this.#txStatus === TransactionStatus.Idle) this.#names?.transactionEnded();
          // More answers than were asked for: the gateway lost count, and could pair results with the wrong statement.
          if (this.#replies.seen >= this.#replies.owed) throw new HoopError('internal', 'hoop: the server answered a Sync or Query the gateway did not count; the session is closed to protect masked data');
          this.#copyIn?.ready(this.#replies.seen);
          this.#finished(this.#tracker.ready());
          this.#replies.ready(f.raw, out, this.#clientStatus());
          continue;
        }
        default:
          break;
      }
      out.push(...bytes);
    }
    this.#bytesToClient += out.reduce((n, b) => n + b.length, 0);
    await writeFrames(this.#client, out);
    return true;
  }

  #finished(done: FinishedStatement[]): void {
    recordFinished(this.#ctx, done, this.#masker, this.#capture);
  }

  #toClient(frames: Buffer[]): void {
    if (this.#client.destroyed || this.#client.writableEnded) return;
    this.#bytesToClient += frames.reduce((n, b) => n + b.length, 0);
    void writeFrames(this.#client, frames);
  }

  #sendFatal(err: HoopError): void {
    this.#toClient([encodeFatal(err)]);
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
    await recordSessionEnd(this.#ctx, this.#endReason, this.#clientSource.bytes, this.#bytesToClient, this.#tracker.count);
    this.#ctx.logger.info('session ended', { reason: this.#endReason, statements: this.#tracker.count });
  }
}
