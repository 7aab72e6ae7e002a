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
import type { Catalog } from './catalog.js';
import { passedParams, readClientHello } from './client-startup.js';
import { FrameSource } from './frame-source.js';
import {
  BackendTag, FrontendTag, MAX_STARTUP_LENGTH, TransactionStatus, createFramer, decodeBackend, decodeFrontend,
  encodeAuthenticationOk, encodeBackendKeyData, encodeErrorResponse, encodeNoticeResponse, encodeParameterStatus, encodeQuery,
  encodeReadyForQuery, encodeTerminate, buildFrame, wireBytes,
  type Frame, type TransactionStatusValue,
} from './protocol/index.js';
import { routineFor, sqlStateOf } from './sqlstate.js';
import { StatementTracker, type FinishedStatement, type TrackedStatement } from './statement-tracker.js';
import { openUpstream, type Upstream } from './upstream.js';
import { writeFrames } from './write-batch.js';
import { PolicyGate, type Verdict } from './policy-gate.js';
import { ResultMasker } from './result-masker.js';
import { ResultCapture } from './result-capture.js';
import { parseSessionOptions, unsafeParameter } from './session-options.js';
import { paramsAsText } from './statement-tracker.js';
import type { ApprovalRule } from '../../policy/guardrails.js';
import { ExtendedNames } from './extended-names.js';
import type { MaskPortal, MaskStatement } from './result-masker.js';

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

/** A prepared statement as the session keeps it: its text, the gate's decision, and what the masker knows of it. */
interface Prepared {
  sql: string;
  decision: string;
  details: Record<string, unknown>;
  /** Ran under an approval: it may not be bound again. */
  spent: boolean;
  /** A COPY … FROM STDIN: executing it puts the server in copy-in mode. */
  copyIn?: boolean;
  /** A DEALLOCATE or DISCARD ALL: executing it removes prepared statements (StatementFacts.releases). */
  releases?: string | null;
  mask: MaskStatement | undefined;
}

/** A portal: the statement it was bound to (as it was then), its parameters, and whether it ran. */
interface Portal {
  text: string;
  parameters: (string | null)[];
  statement: Prepared | undefined;
  decision: string;
  details: Record<string, unknown>;
  ran: boolean;
  mask: MaskPortal | undefined;
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
  #upstream: Pick<Upstream, 'socket' | 'source'> | undefined;
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
  /** ReadyForQuery answers the server owes (Query and Sync forwarded) and has given. */
  #readyOwed = 0;
  #readySeen = 0;
  /** Our own messages waiting for the server's answers before them to reach the client. */
  #injections: Injection[] = [];
  /**
   * COPY FROM STDIN in progress: the server ignores Sync and Flush in copy-in mode, so a Sync the client sends
   * then (libpq sends one right after the Execute) must not be counted as a ReadyForQuery owed. Syncs sent before
   * the server's CopyInResponse are `deferred`: counted only if the COPY fails before it starts.
   */
  #copyIn: { extended: boolean; unit: number; started: boolean; deferred: number } | undefined;
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
  #names: ExtendedNames<Prepared, Portal> | undefined;
  /** Extended protocol: a pipeline held, up to its Sync, while its statement waits for approval. */
  #held: {
    frames: Frame[]; name: string; sql: string; rule: ApprovalRule; facts: Verdict['facts']; params: (string | null)[] | null;
    /** Portals bound to the held statement, and portals executed, in the pipeline. */
    binds: string[]; executes: string[];
  } | undefined;
  /** Aborts the wait for a review (the client went away, or sent a CancelRequest). */
  #approvalWait: AbortController | undefined;
  /** A statement the approver approved, let through the gate once while its held pipeline is replayed. */
  #preapproved: { sql: string; details: Record<string, unknown> } | undefined;

  constructor(client: Duplex, ctx: SessionContext, deps: PostgresSessionDeps) {
    this.#client = client;
    this.#ctx = ctx;
    this.#deps = deps;
    this.#tracker = new StatementTracker(() => ctx.now().getTime());
    this.#capture = new ResultCapture(ctx.capture);
    this.#clientSource = new FrameSource(client, createFramer({ startup: true, maxLength: MAX_STARTUP_LENGTH }));
    client.on('error', (e) => ctx.logger.debug('client stream error', { error: e }));
    // A client that goes away while its statement waits for a review must not have it run later.
    client.on('close', () => this.#approvalWait?.abort()); // `on`: 'close' comes once; `once` adds a wrapper
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
   * The handshake: the client's startup packet, the session's record and the login to the target, then the
   * greeting. True when the session is ready to relay; false when it ended (the client left, or sent a cancel).
   */
  async #open(): Promise<boolean> {
    const log = this.#ctx.logger;
    const hello = await readClientHello(this.#client, this.#clientSource);
    if (hello.kind === 'gone') return false;
    if (hello.kind === 'cancel') {
      await this.#deps.cancels.cancel(hello.pid, hello.secret, this.#ctx.subject).catch((e: unknown) => log.warn('cancel failed', { error: e }));
      this.#client.end();
      return false;
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
    const recorded = this.#ctx.recorder.sessionStarted({
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
    const login = openUpstream({ target: this.#ctx.connection, clientParams: passedParams(hello.params), signal: this.#abort.signal });
    const [rec, upstream] = await Promise.allSettled([recorded, login]);
    if (rec.status === 'fulfilled') this.#recorded = true;
    if (rec.status === 'rejected' || upstream.status === 'rejected') {
      if (upstream.status === 'fulfilled') upstream.value.socket.destroy();
      throw rec.status === 'rejected' ? rec.reason : (upstream as PromiseRejectedResult).reason;
    }
    log.info('session started', { application: hello.params.application_name });
    const up = upstream.value;
    // Only the socket and its frame source are needed from here on (the parameters go into the greeting).
    this.#upstream = { socket: up.socket, source: up.source };
    up.socket.on('error', (e) => log.debug('upstream socket error', { error: e }));
    if (this.#closed) return false;
    for (const [name, value] of up.parameters) {
      const why = unsafeParameter(name, value);
      if (why) throw new HoopError('upstream_unavailable', `${this.#ctx.connection.name} runs with ${why}`, { hint: 'an operator should fix the database or role settings' });
    }
    const policy = this.#ctx.policy;
    this.#gate = new PolicyGate(policy, this.#ctx.reviews, {
      requester: this.#ctx.requester,
      connection: this.#ctx.connection.name,
      sessionId: this.#ctx.sessionId,
      approvalWaitMs: options.approvalWaitMs,
      reviewId: options.reviewId,
    });
    if (policy.masking && this.#deps.catalog) this.#masker = new ResultMasker(policy.masking, this.#deps.catalog, this.#ctx.hashKey);

    const greeting: Buffer[] = [encodeAuthenticationOk()];
    for (const [name, value] of up.parameters) greeting.push(encodeParameterStatus(name, value));
    if (up.backendKey) {
      const k = this.#deps.cancels.register(this.#ctx.subject, this.#ctx.connection, up.backendKey, () => {
        if (!this.#approvalWait) return false;
        this.#approvalWait.abort(); // Ctrl-C while held: stop waiting; the statement does not run
        return true;
      });
      this.#releaseCancelKey = k.release;
      greeting.push(encodeBackendKeyData(k.pid, k.secret));
    }
    greeting.push(encodeReadyForQuery(TransactionStatus.Idle));
    this.#toClient(greeting);

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
    if (this.#held) return this.#hold(f);
    if (this.#copyIn) {
      const c = this.#copyInMessage(f);
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
          const ok = this.#inFailedTransaction(verdict.facts, sql);
          if (!ok) return this.#refuseStatement(sql, null, 'simple', 'block', { rule: 'failed_transaction' }, this.#abortedError());
          const stmt = this.#tracker.query(sql);
          if (!(await this.#recordStart(stmt, 'allow', ok.forward === sql ? {} : { forwarded_as: ok.forward }))) {
            this.#refuse(this.#auditError(), 'simple');
            return [];
          }
          this.#aborted = false;
          this.#masker?.query([]);
          this.#readyOwed++;
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
        if (!(await this.#recordStart(stmt, decision, details))) {
          this.#refuse(this.#auditError(), 'simple');
          return [];
        }
        this.#masker?.query(verdict.facts);
        if (verdict.facts.some(isCopyIn)) this.#copyIn = { extended: false, unit: this.#readyOwed, started: false, deferred: 0 };
        for (const x of verdict.facts) if (x.releases !== undefined) (this.#names ??= new ExtendedNames()).release(x.releases, this.#readyOwed);
        this.#readyOwed++;
        return [f.raw];
      }
      case FrontendTag.Parse: {
        const m = decodeFrontend(tag, f.body) as { name: string; sql: string };
        let decision = 'allow';
        let details: Record<string, unknown> = {};
        let facts: Verdict['facts'];
        if (this.#preapproved?.sql === m.sql) {
          ({ details } = this.#preapproved);
          decision = 'approved';
          this.#preapproved = undefined;
          facts = (await this.#check(m.sql)).facts;
        } else {
          const verdict = await this.#check(m.sql);
          facts = verdict.facts;
          if (this.#aborted) {
            const ok = this.#inFailedTransaction(facts, m.sql);
            if (!ok) return this.#refuseStatement(m.sql, null, 'extended', 'block', { rule: 'failed_transaction' }, this.#abortedError());
            this.#aborted = false;
            if (ok.forward !== m.sql) {
              this.#parsed(m.name, { sql: ok.forward, decision: 'allow', details: { client_sql: m.sql }, spent: false, mask: this.#masker?.statement(undefined, ok.forward) });
              this.#forwardedSinceSync = true;
              return [encodeParse(m.name, ok.forward)];
            }
          }
          if (verdict.action === 'block') return this.#refuseStatement(m.sql, null, 'extended', 'block', { rule: verdict.rule }, verdict.error);
          if (verdict.action === 'approve') {
            this.#held = { frames: [f], name: m.name, sql: m.sql, rule: verdict.rule, facts, params: null, binds: [], executes: [] };
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
        (this.#names ??= new ExtendedNames()).bind(m.portal, portal, this.#readyOwed);
        break;
      }
      case FrontendTag.Describe: {
        const m = decodeFrontend(tag, f.body) as { target: 'S' | 'P'; name: string };
        this.#masker?.describe(m.target === 'S' ? this.#names?.statement(m.name)?.mask : this.#names?.portal(m.name)?.mask);
        break;
      }
      case FrontendTag.Close: {
        const m = decodeFrontend(tag, f.body) as { target: 'S' | 'P'; name: string };
        (this.#names ??= new ExtendedNames()).close(m.target, m.name, this.#readyOwed);
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
        if (!(await this.#recordStart(stmt, p?.decision ?? 'allow', p?.details ?? {}))) {
          this.#refuse(this.#auditError(), 'extended');
          return [];
        }
        this.#masker?.execute(p?.mask);
        if (p?.statement?.copyIn) this.#copyIn = { extended: true, unit: this.#readyOwed, started: false, deferred: 0 };
        if (p?.statement?.releases !== undefined) this.#names!.release(p.statement.releases, this.#readyOwed);
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
        this.#readyOwed++;
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

  /**
   * A client message while a COPY FROM STDIN may be running: the bytes to forward, or null to handle it as usual
   * (the COPY is over). Only COPY data, and in the extended protocol Sync and Flush, may come; anything else
   * could not be paired with the server's answers, and ends the session.
   */
  #copyInMessage(f: Frame): Buffer[] | null {
    const c = this.#copyIn!;
    switch (f.tag) {
      case FrontendTag.CopyData:
        return [f.raw];
      case FrontendTag.CopyDone:
      case FrontendTag.CopyFail:
        if (!c.started) throw copyProtocolError('COPY data came before the server asked for it');
        this.#copyIn = undefined;
        return [f.raw];
      case FrontendTag.Sync:
        if (!c.extended) throw copyProtocolError('Sync during COPY FROM STDIN sent with a simple Query');
        if (!c.started) c.deferred++;
        return [f.raw]; // the server ignores it in copy-in mode
      case FrontendTag.Flush:
        if (!c.extended) throw copyProtocolError('Flush during COPY FROM STDIN sent with a simple Query');
        return [f.raw];
      case FrontendTag.Terminate:
        return null;
      default:
        throw copyProtocolError('only COPY data may follow COPY FROM STDIN until CopyDone or CopyFail');
    }
  }

  /** The server answered a COPY FROM STDIN that was starting (CopyInResponse), or failed it (ErrorResponse, ReadyForQuery). */
  #copyInAnswer(tag: number): void {
    const c = this.#copyIn;
    if (!c) return;
    if (tag === BackendTag.CopyInResponse) {
      c.started = true;
      c.deferred = 0; // ignored by the server
      return;
    }
    // Failed mid-copy: the client still ends with CopyDone or CopyFail (discarded), then its Sync.
    if (c.started) return;
    // The COPY failed before it started: Syncs sent meanwhile are read as Syncs after all.
    this.#copyIn = undefined;
    for (let i = 0; i < c.deferred; i++) {
      this.#tracker.sync();
      this.#masker?.sync();
      this.#readyOwed++;
    }
  }

  /** A Parse forwarded (or about to be): the statement, under its name once the server confirms it. */
  #parsed(name: string, st: Prepared): void {
    (this.#names ??= new ExtendedNames()).parse(name, st, this.#readyOwed);
  }

  #clientStatus(): TransactionStatusValue {
    return this.#aborted ? TransactionStatus.Failed : this.#txStatus;
  }

  /**
   * In a failed transaction: ROLLBACK (or COMMIT, which PostgreSQL turns into ROLLBACK) ends it; ROLLBACK TO
   * SAVEPOINT recovers it; anything else is refused. Returns the SQL to forward instead, or null to refuse.
   */
  #inFailedTransaction(facts: Verdict['facts'], sql: string): { forward: string } | null {
    const f = facts.length === 1 ? facts[0] : undefined;
    if (f?.kind !== 'transaction') return null;
    if (/^\s*rollback\s+(work\s+|transaction\s+)?to\b/i.test(f.text)) return { forward: sql };
    if (f.command === 'COMMIT' || f.command === 'ROLLBACK') return { forward: 'ROLLBACK' };
    return null;
  }

  #abortedError(): HoopError {
    return new HoopError('statement_failed', 'current transaction is aborted, commands ignored until end of transaction block', {
      hint: 'hoop refused a statement in this transaction; ROLLBACK and start again',
      details: { sqlstate: '25P02' },
    });
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
    const held = this.#held!;
    if (f.tag === FrontendTag.Terminate) return 'end';
    held.frames.push(f);
    if (f.tag === FrontendTag.Bind) {
      const m = decodeFrontend(f.tag, f.body) as { portal: string; statement: string; params: (Buffer | null)[]; paramFormats: number[] };
      if (m.statement === held.name) {
        held.binds.push(m.portal);
        held.params = paramsAsText(m.params, m.paramFormats);
      }
    }
    if (f.tag === FrontendTag.Execute) held.executes.push((decodeFrontend(f.tag, f.body) as { portal: string }).portal);
    if (f.tag !== FrontendTag.Sync) return [];
    this.#held = undefined;
    // What the approver sees must be exactly what runs: one Bind of the statement (its parameters) and one
    // Execute of that portal, in this pipeline. A Bind left for later could run it with other parameters.
    const rule = held.rule.name;
    const why = held.executes.length > 1 ? `this pipeline executes ${held.executes.length} times`
      : held.binds.length !== 1 || held.executes.length !== 1 || held.executes[0] !== held.binds[0]
        ? 'send Parse, one Bind and one Execute of it before Sync, so the approval covers its parameters' : null;
    if (why) {
      const err = new HoopError('blocked', `hoop: this statement needs approval (rule ${rule}), and an approval covers one execution with the parameters the approver saw; ${why} (rule ${rule})`);
      this.#refuseStatement(held.sql, held.params, 'extended', 'block', { rule }, err);
      return this.#fromClient(f);
    }
    const outcome = await this.#awaitApproval(held.rule, held.sql, held.params);
    if (!outcome.approved) {
      this.#refuseStatement(held.sql, held.params, 'extended', outcome.decision, { rule: held.rule.name, review_id: outcome.reviewId }, outcome.error);
      return this.#fromClient(f); // the Sync, now discarding: answered with ReadyForQuery
    }
    this.#preapproved = { sql: held.sql, details: { rule: held.rule.name, review_id: outcome.reviewId } };
    const out: Buffer[] = [];
    for (const h of held.frames) {
      const r = await this.#fromClient(h);
      if (r === 'end') return 'end';
      out.push(...r);
    }
    return out;
  }

  /** Waits for the review; the client's disconnect or CancelRequest ends the wait (the statement does not run). */
  async #awaitApproval(rule: ApprovalRule, sql: string, params: (string | null)[] | null): ReturnType<PolicyGate['approve']> {
    const wait = new AbortController();
    this.#approvalWait = wait;
    const onAbort = (): void => wait.abort();
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.#gate!.approve(rule, sql, params, (t) => this.#notice(t), wait.signal);
    } finally {
      this.#approvalWait = undefined;
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Records a statement that was not run, and refuses it. */
  #refuseStatement(
    sql: string, params: (string | null)[] | null, protocol: 'simple' | 'extended', decision: string,
    details: Record<string, unknown>, err: HoopError,
  ): Buffer[] {
    const stmt = this.#tracker.refused(sql, params, protocol);
    const rec = this.#ctx.recorder;
    const sqlstate = sqlStateOf(err);
    void rec.statementStarted({
      sessionId: this.#ctx.sessionId, seq: stmt.seq, text: sql, parameters: params, protocol,
      startedAt: new Date(stmt.startedAt), decision, details: { ...details, message: err.message },
    })
      .then(() => rec.statementFinished({
        sessionId: this.#ctx.sessionId, seq: stmt.seq, durationMs: 0, rows: null, commandTag: null, errorCode: sqlstate, errorMessage: err.message,
      }))
      .catch((e: unknown) => this.#ctx.logger.error('cannot record a refused statement', { error: e }));
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
    const sqlstate = sqlStateOf(err);
    const error = encodeErrorResponse({
      severity: 'ERROR', code: sqlstate, message: err.message, routine: routineFor(err.code), ...(err.hint ? { hint: err.hint } : {}),
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
      this.#toClient(withReady ? [...frames, encodeReadyForQuery(this.#clientStatus())] : frames);
    } else {
      this.#injections.push({ ready: this.#readyOwed, position: 'after', frames, withReady });
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
          this.#names?.failed(this.#readySeen);
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
          if (this.#readySeen >= this.#readyOwed) throw new HoopError('internal', 'hoop: the server answered a Sync or Query the gateway did not count; the session is closed to protect masked data');
          if (this.#copyIn && !this.#copyIn.extended && this.#readySeen >= this.#copyIn.unit) this.#copyIn = undefined;
          this.#finished(this.#tracker.ready());
          this.#readySeen++;
          const due = this.#injections.filter((x) => x.ready <= this.#readySeen);
          if (due.length) this.#injections = this.#injections.filter((x) => x.ready > this.#readySeen);
          for (const x of due) if (x.position === 'before') out.push(...x.frames);
          out.push(f.raw);
          for (const x of due) {
            if (x.position !== 'after') continue;
            out.push(...x.frames);
            if (x.withReady) out.push(encodeReadyForQuery(this.#clientStatus()));
          }
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

  async #recordStart(stmt: TrackedStatement, decision = 'allow', details: Record<string, unknown> = {}): Promise<boolean> {
    try {
      await this.#ctx.recorder.statementStarted({
        sessionId: this.#ctx.sessionId,
        seq: stmt.seq,
        text: stmt.text,
        parameters: stmt.parameters,
        protocol: stmt.protocol,
        startedAt: new Date(stmt.startedAt),
        decision,
        details: Object.keys(details).length ? details : null,
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
    const masking = done.length ? this.#masker?.takeSummary() ?? null : null;
    const result = done.length ? this.#capture.take() : null;
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
          details: masking && s === done[done.length - 1] ? { masking } : null,
          result: s === done[done.length - 1] ? result : null,
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
    const code = err.code === 'grant_revoked' || err.code === 'grant_expired' ? '57P01' : sqlStateOf(err);
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

/** A Parse message for `sql` with no parameter types (used to turn a failed transaction's COMMIT into ROLLBACK). */
function encodeParse(name: string, sql: string): Buffer {
  return buildFrame(FrontendTag.Parse, [{ cstr: name }, { cstr: sql }, { i16: 0 }]);
}

/** A COPY … FROM STDIN (data from the client). */
/** The command tags of the statements that remove prepared statements (StatementFacts.releases). */
const RELEASE_TAGS = new Set(['DEALLOCATE', 'DEALLOCATE ALL', 'DISCARD ALL']);

function isCopyIn(f: Verdict['facts'][number]): boolean {
  return f.copy?.direction === 'from' && f.copy.stdio;
}

function copyProtocolError(what: string): HoopError {
  return new HoopError('usage', `hoop: ${what}; the session is closed`, { details: { sqlstate: '08P01' } });
}
