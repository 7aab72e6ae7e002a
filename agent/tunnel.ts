/**
 * One open tunnel: a localhost listener, a relay per accepted client, and the grant those relays present.
 *
 * The grant is renewed ahead of expiry; a renewed token is used for new client connections only (live streams
 * keep running, since the gateway tracks the grant by id). When renewal is impossible, the listener closes at
 * expiry, so new connections are refused at once instead of hanging.
 */
import type { Socket } from 'node:net';
import type { TunnelInfo } from '../shared/api/agent-control.js';
import type { Grant } from '../shared/api/schemas.js';
import { HoopError, toHoopError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { LOOPBACK, openListener, type Listener } from './listener.js';
import { relay } from '../shared/net/relay.js';
import { refusePostgres } from './pg-refusal.js';
import { isPermanentRenewalFailure, renewalDelay, retryDelay, type Clock } from './renewal.js';
import { TUNNEL_CLOSE } from '../shared/tunnel/protocol.js';
import type { TunnelDialer } from '../shared/tunnel/ws-dialer.js';

/** A grant together with its signed token, as the agent holds it. */
export type TunnelGrant = Grant & { token: string };

/**
 * Asks the gateway for a renewed grant, as the user: with `accessToken` when the tunnel came with one, else with
 * the stored login. Rejects with a HoopError (login_required, grant_revoked, …).
 */
export type RenewGrant = (grant: TunnelGrant, gatewayUrl: string, accessToken?: string) => Promise<TunnelGrant>;

/**
 * Reads the grant as it stands at the gateway (revoked or not, when it expires), as {@link RenewGrant} asks.
 * Rejects when the gateway cannot say (down, or the login is not the grant's subject): nothing is concluded then.
 */
export type CheckGrant = (grant: TunnelGrant, gatewayUrl: string, accessToken?: string) => Promise<Grant>;

/**
 * How often an idle tunnel asks whether its grant still stands. A tunnel with clients learns at once (the gateway
 * ends their streams with a code); an idle one would otherwise say `open` until its next client or renewal.
 */
export const GRANT_CHECK_INTERVAL_MS = 30_000;

/**
 * `open` accepts clients. The others do not, and say why: `expired` (the grant ran out), `revoked` (the gateway
 * says the grant was revoked), `refused` (the gateway no longer accepts the grant: not valid, or access was
 * withdrawn), `closed` (closed or replaced here).
 */
export type TunnelState = 'open' | EndedState | 'closed';
type EndedState = 'expired' | 'revoked' | 'refused';

/** The gateway's close codes that mean no stream will ever open with this grant again. */
const GRANT_ENDED: ReadonlyMap<number, { state: EndedState; why: string }> = new Map([
  [TUNNEL_CLOSE.grantRevoked, { state: 'revoked', why: 'the grant was revoked' }],
  [TUNNEL_CLOSE.grantExpired, { state: 'expired', why: 'grant expired' }],
  [TUNNEL_CLOSE.grantInvalid, { state: 'refused', why: 'the gateway no longer accepts the grant' }],
  [TUNNEL_CLOSE.accessDenied, { state: 'refused', why: 'access to the connection was withdrawn' }],
]);

/** Renewal failures that mean the grant itself is over (a login problem is not one: the grant runs on). */
const RENEWAL_ENDS: Readonly<Partial<Record<string, EndedState>>> = {
  grant_revoked: 'revoked',
  grant_expired: 'expired',
  grant_invalid: 'refused',
  access_denied: 'refused',
  not_found: 'refused',
};

export interface TunnelDeps {
  dialer: TunnelDialer;
  renewGrant?: RenewGrant | undefined;
  /** Checks an idle tunnel's grant every {@link GRANT_CHECK_INTERVAL_MS}; without it, only clients and renewal tell. */
  checkGrant?: CheckGrant | undefined;
  checkIntervalMs?: number | undefined;
  clock: Clock;
  logger: Logger;
  openTimeoutMs?: number | undefined;
}

export interface TunnelSpec {
  connection: string;
  gatewayUrl: string;
  grant: TunnelGrant;
  port?: number | undefined;
  defaultPort?: number | undefined;
  /** The bearer token the grant came with (`HOOP_TOKEN`), for renewing it; never logged. */
  accessToken?: string | undefined;
}

export class Tunnel {
  readonly connection: string;
  readonly gatewayUrl: string;
  readonly openedAt: string;
  /** The bearer token the tunnel came with, if any: its grant is renewed and given back with it. */
  readonly accessToken: string | undefined;
  /** The most bytes any one relay of this tunnel held at once. */
  maxBuffered = 0;
  #deps: TunnelDeps;
  #log: Logger;
  #grant: TunnelGrant;
  #listener!: Listener;
  #state: TunnelState = 'open';
  #accepting = true;
  #relays = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  #total = 0;
  #bytesFromClients = 0;
  #bytesToClients = 0;
  #lastError: string | null = null;
  /**
   * Where {@link #lastError} came from. A client stream's failure (the gateway down, say) is cleared when a later
   * stream opens: it is over, and `hoop agent status` must not go on showing it next to a tunnel that works.
   */
  #lastErrorFrom: 'stream' | 'renewal' | 'end' | null = null;
  #renewalError: string | null = null;
  /** What a failed renewal put in the status, shown again when a newer stream failure is cleared. */
  #renewalNote: string | null = null;
  #renewStopped = false;
  #cancelRenewal: (() => void) | undefined;
  #cancelExpiry: (() => void) | undefined;
  #cancelCheck: (() => void) | undefined;
  #idleWaiters: Array<() => void> = [];

  private constructor(spec: TunnelSpec, deps: TunnelDeps) {
    this.connection = spec.connection;
    this.gatewayUrl = spec.gatewayUrl;
    this.accessToken = spec.accessToken;
    this.#grant = spec.grant;
    this.#deps = deps;
    this.#log = deps.logger.child({ connection: spec.connection });
    this.openedAt = new Date(deps.clock.now()).toISOString();
  }

  /** Throws grant_expired when `grant` has already run out: a tunnel for it would refuse every client. */
  static checkGrant(connection: string, grant: TunnelGrant, clock: Clock): void {
    if (Date.parse(grant.expires_at) <= clock.now()) {
      throw new HoopError('grant_expired', `the grant for ${connection} has already expired`, {
        hint: `run \`hoop connect ${connection}\` again`,
      });
    }
  }

  /**
   * Binds the listener (or takes over `listener`, handed over by the tunnel this one replaces: see
   * {@link handOver}) and starts the expiry and renewal timers.
   */
  static async open(spec: TunnelSpec, deps: TunnelDeps, listener?: Listener): Promise<Tunnel> {
    const t = new Tunnel(spec, deps);
    Tunnel.checkGrant(spec.connection, spec.grant, deps.clock);
    if (listener) {
      listener.redirect((s) => t.#accept(s));
      t.#listener = listener;
    } else {
      t.#listener = await openListener({ port: spec.port, defaultPort: spec.defaultPort, onConnection: (s) => t.#accept(s) });
    }
    t.#armExpiry();
    t.#scheduleRenewal();
    t.#scheduleCheck();
    t.#log.info('tunnel open', { port: t.#listener.port, grant_id: spec.grant.id, expires_at: spec.grant.expires_at });
    return t;
  }

  get state(): TunnelState {
    return this.#state;
  }

  get port(): number {
    return this.#listener.port;
  }

  get activeClients(): number {
    return this.#relays.size;
  }

  /** The grant new client connections present (tests look at its token; it is never logged). */
  get grant(): TunnelGrant {
    return this.#grant;
  }

  info(): TunnelInfo {
    return {
      connection: this.connection,
      state: this.#state,
      type: this.#grant.type,
      host: LOOPBACK,
      port: this.#listener.port,
      grant_id: this.#grant.id,
      expires_at: this.#grant.expires_at,
      opened_at: this.openedAt,
      active_clients: this.#relays.size,
      total_clients: this.#total,
      bytes_from_clients: this.#bytesFromClients,
      bytes_to_clients: this.#bytesToClients,
      last_error: this.#lastError,
    };
  }

  /** Stops accepting and renewing; live client streams run on until they end. Idempotent. */
  retire(): void {
    this.#accepting = false;
    if (this.#state === 'open') this.#state = 'closed';
    this.#stopTimers();
    this.#listener.close();
  }

  /**
   * Retires the tunnel but leaves its listener open and returns it, for the tunnel that replaces this one on the
   * same port ({@link open}); null when the listener is closed already. Live client streams run on.
   */
  handOver(): Listener | null {
    const listener = this.#listener;
    if (listener.closed || this.#state !== 'open') {
      this.retire();
      return null;
    }
    this.#accepting = false;
    this.#state = 'closed';
    this.#stopTimers();
    // Until the successor redirects it (at once, before anything can be accepted), refuse.
    listener.redirect((s) => s.destroy());
    return listener;
  }

  /** Retires the tunnel and ends every live client stream; resolves when they have all closed. Idempotent. */
  async close(): Promise<void> {
    this.retire();
    this.#state = 'closed';
    for (const r of this.#relays) r.abort.abort();
    await this.idle();
  }

  /** Resolves once no client stream is live. */
  idle(): Promise<void> {
    if (this.#relays.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #accept(socket: Socket): void {
    if (!this.#accepting) {
      socket.destroy();
      return;
    }
    this.#total += 1;
    const abort = new AbortController();
    const log = this.#log.child({ client: this.#total });
    log.debug('client connected', { remote_port: socket.remotePort });
    const done = relay({
      client: socket,
      dialer: this.#dialerNoticingOpens(),
      token: this.#grant.token,
      signal: abort.signal,
      openTimeoutMs: this.#deps.openTimeoutMs,
      onBytes: (up, down) => {
        this.#bytesFromClients += up;
        this.#bytesToClients += down;
      },
      // A client of a tunnel that cannot open is told why in its own protocol, not just disconnected.
      ...(this.#grant.type === 'postgres' ? { refuse: refusePostgres } : {}),
      onGatewayClose: (code, doorRefusal) => {
        // The gateway said the grant is over (revoked, say): no client will get through again, so stop
        // listening now rather than at expiry, and let `hoop agent status` and the connect view say why (in the
        // gateway's words when it refused the grant at the door).
        const over = code === null ? undefined : GRANT_ENDED.get(code);
        if (over) this.#end(over.state, doorRefusal ?? over.why);
      },
    }).then((result) => {
      this.#relays.delete(entry);
      if (result.maxBuffered > this.maxBuffered) this.maxBuffered = result.maxBuffered;
      const fields = { end: result.end, bytes_from_client: result.bytesFromClient, bytes_to_client: result.bytesToClient };
      if (result.error !== null) {
        // Once the grant is over, the status keeps saying so (the stream that brought the news ends with an error too).
        if (this.#state === 'open') this.#setLastError(result.error, 'stream');
        log.warn('client stream ended with an error', { ...fields, error: result.error });
      } else {
        log.debug('client disconnected', fields);
      }
      if (this.#relays.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
    });
    const entry = { abort, done };
    this.#relays.add(entry);
  }

  /** The tunnel's dialer, except that a stream that opens clears an earlier stream's error from the status. */
  #dialerNoticingOpens(): TunnelDialer {
    const dialer = this.#deps.dialer;
    return {
      dial: (token, handlers) => dialer.dial(token, {
        open: () => {
          if (this.#state === 'open' && this.#lastErrorFrom === 'stream') this.#setLastError(this.#renewalNote, 'renewal');
          handlers.open();
        },
        data: (chunk) => handlers.data(chunk),
        drain: () => handlers.drain(),
        close: (info) => handlers.close(info),
      }),
    };
  }

  #setLastError(text: string | null, from: 'stream' | 'renewal' | 'end'): void {
    this.#lastError = text;
    this.#lastErrorFrom = text === null ? null : from;
  }

  #armExpiry(): void {
    this.#cancelExpiry?.();
    const ms = Math.max(0, Date.parse(this.#grant.expires_at) - this.#deps.clock.now());
    this.#cancelExpiry = this.#deps.clock.setTimer(() => this.#expire(), ms);
  }

  #expire(): void {
    this.#end('expired', this.#renewalError ? `grant expired; ${this.#renewalError}` : 'grant expired');
  }

  /** The grant is over: stops accepting and renewing, closes the listener, and keeps why for the status. */
  #end(state: EndedState, why: string): void {
    if (this.#state !== 'open') return;
    this.#accepting = false;
    this.#state = state;
    this.#stopTimers();
    this.#listener.close();
    this.#setLastError(why, 'end');
    this.#log.info(`${why}: listener closed`, { grant_id: this.#grant.id, expires_at: this.#grant.expires_at, state });
  }

  #scheduleRenewal(delay?: number): void {
    this.#cancelRenewal?.();
    this.#cancelRenewal = undefined;
    if (!this.#deps.renewGrant || this.#renewStopped || this.#state !== 'open') return;
    const ms = delay ?? renewalDelay(this.#deps.clock.now(), Date.parse(this.#grant.expires_at));
    this.#cancelRenewal = this.#deps.clock.setTimer(() => void this.#renew(), ms);
  }

  async #renew(): Promise<void> {
    const renewGrant = this.#deps.renewGrant;
    if (!renewGrant || this.#state !== 'open') return;
    const old = this.#grant;
    try {
      const next = await renewGrant(old, this.gatewayUrl, this.accessToken);
      if (this.#state !== 'open') return;
      if (next.connection !== this.connection) {
        throw new HoopError('grant_invalid', `the renewed grant names connection ${next.connection}, not ${this.connection}`);
      }
      this.#grant = next;
      this.#renewalError = null;
      this.#renewalNote = null;
      if (this.#lastErrorFrom === 'renewal') this.#setLastError(null, 'renewal');
      this.#armExpiry();
      if (Date.parse(next.expires_at) <= Date.parse(old.expires_at)) {
        // The policy's maximum duration is reached: nothing more to renew, the tunnel closes at expiry.
        this.#renewStopped = true;
        this.#log.info('grant cannot be extended further', { grant_id: next.id, expires_at: next.expires_at });
        return;
      }
      this.#log.info('grant renewed', { grant_id: next.id, expires_at: next.expires_at });
      this.#scheduleRenewal();
    } catch (e) {
      if (this.#state !== 'open') return;
      const err = toHoopError(e);
      const permanent = isPermanentRenewalFailure(err.code);
      this.#renewalError = `grant renewal failed: ${err.message}`;
      this.#renewalNote = permanent ? this.#renewalError : `${this.#renewalError} (will retry)`;
      this.#setLastError(this.#renewalNote, 'renewal');
      this.#log.warn('grant renewal failed', { code: err.code, error: err.message, permanent });
      const ended = RENEWAL_ENDS[err.code];
      if (ended) {
        this.#end(ended, this.#renewalError);
      } else if (permanent) {
        this.#renewStopped = true;
      } else {
        this.#scheduleRenewal(retryDelay(this.#deps.clock.now(), Date.parse(this.#grant.expires_at)));
      }
    }
  }

  #scheduleCheck(): void {
    this.#cancelCheck?.();
    this.#cancelCheck = undefined;
    if (!this.#deps.checkGrant || this.#state !== 'open') return;
    this.#cancelCheck = this.#deps.clock.setTimer(() => void this.#check(), this.#deps.checkIntervalMs ?? GRANT_CHECK_INTERVAL_MS);
  }

  /** Asks whether an idle tunnel's grant still stands; ends the tunnel only on a clear answer that it does not. */
  async #check(): Promise<void> {
    const checkGrant = this.#deps.checkGrant;
    if (!checkGrant || this.#state !== 'open') return;
    try {
      if (this.#relays.size > 0) return; // live streams are ended by the gateway, with a code, when it is over
      const asked = this.#grant;
      const seen = await checkGrant(asked, this.gatewayUrl, this.accessToken);
      if (this.#state !== 'open' || this.#grant.id !== asked.id || seen.id !== asked.id) return;
      if (seen.revoked_at) this.#end('revoked', 'the grant was revoked');
      else if (Date.parse(seen.expires_at) <= this.#deps.clock.now()) this.#end('expired', 'grant expired');
    } catch (e) {
      this.#log.debug('could not check the grant; the tunnel stays as it is', { error: toHoopError(e).message });
    } finally {
      this.#scheduleCheck();
    }
  }

  #stopTimers(): void {
    this.#cancelRenewal?.();
    this.#cancelExpiry?.();
    this.#cancelCheck?.();
    this.#cancelRenewal = undefined;
    this.#cancelExpiry = undefined;
    this.#cancelCheck = undefined;
  }
}
