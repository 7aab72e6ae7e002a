/**
 * The agent's tunnel registry: at most one tunnel per connection, opened, replaced, closed and reported here.
 */
import type { OpenTunnelRequest, TunnelInfo } from '../shared/api/agent-control.js';
import { HoopError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { systemClock, type Clock } from './renewal.js';
import { Tunnel, type CheckGrant, type RenewGrant } from './tunnel.js';
import type { ReleaseGrant } from './renew.js';
import type { ProbeGateway } from './gateway-probe.js';
import { withTimeout } from '../shared/timeout.js';
import type { TunnelDialer } from '../shared/tunnel/ws-dialer.js';

/** The local port a connection type gets when none is asked for (5433: next to a local PostgreSQL's 5432). */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = { postgres: 5433 };
/** How long closing a tunnel waits for the gateway to take its grant back. */
const RELEASE_TIMEOUT_MS = 3000;

export interface TunnelRegistryOptions {
  /** The transport to a given gateway for a given connection; called once per tunnel. */
  dialerFor: (gatewayUrl: string, connection: string) => TunnelDialer;
  /** Renews grants ahead of expiry; without it, tunnels simply close when their grant expires. */
  renewGrant?: RenewGrant | undefined;
  /**
   * Gives up the grant of a tunnel closed or replaced here while it was still good (revokes it at the gateway),
   * once no client stream uses it any more. Best effort: a failure is logged, and the grant then simply expires.
   */
  releaseGrant?: ReleaseGrant | undefined;
  /** Checks idle tunnels' grants at the gateway, so a revocation shows (and the port closes) without a client. */
  checkGrant?: CheckGrant | undefined;
  checkIntervalMs?: number | undefined;
  /** Checks that this process can reach a gateway before a tunnel to it opens (see gateway-probe.ts). */
  probe?: ProbeGateway | undefined;
  clock?: Clock;
  logger?: Logger;
  defaultPorts?: Readonly<Record<string, number>>;
  /** How long a client waits for the gateway to open its stream before it is disconnected. */
  openTimeoutMs?: number;
}

export class TunnelRegistry {
  #opts: TunnelRegistryOptions;
  #clock: Clock;
  #logger: Logger;
  #tunnels = new Map<string, Tunnel>();
  /**
   * Replaced tunnels whose client streams are still live, ended by {@link closeAll}; true when the grant is to
   * be released once they are done (it was still good when the tunnel was replaced).
   */
  #retired = new Map<Tunnel, boolean>();
  /** Opens and closes run one at a time, so a replacement never races its predecessor for the port. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(opts: TunnelRegistryOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#logger = opts.logger ?? silentLogger;
  }

  /** Opens a tunnel, replacing any tunnel of the same connection (its listener is closed first). */
  open(req: OpenTunnelRequest): Promise<TunnelInfo> {
    return this.#serial(async () => {
      if (this.#closed) throw new HoopError('agent_unavailable', 'the agent is shutting down');
      if (req.grant.connection !== req.connection) {
        throw new HoopError('usage', `the grant is for connection ${req.grant.connection}, not ${req.connection}`);
      }
      Tunnel.checkGrant(req.connection, req.grant, this.#clock);
      await this.#opts.probe?.(req.gateway_url);
      const spec = {
        connection: req.connection,
        gatewayUrl: req.gateway_url,
        grant: req.grant,
        port: req.port,
        defaultPort: (this.#opts.defaultPorts ?? DEFAULT_PORTS)[req.grant.type],
        accessToken: req.access_token,
      };
      const deps = {
        dialer: this.#opts.dialerFor(req.gateway_url, req.connection),
        renewGrant: this.#opts.renewGrant,
        checkGrant: this.#opts.checkGrant,
        checkIntervalMs: this.#opts.checkIntervalMs,
        clock: this.#clock,
        logger: this.#logger,
        openTimeoutMs: this.#opts.openTimeoutMs,
      };
      const old = this.#tunnels.get(req.connection);
      let tunnel: Tunnel;
      if (old && old.state === 'open' && (req.port === undefined || req.port === old.port)) {
        // Replaced on its own port (the default when none is asked for): the new tunnel takes over the
        // listener, so the port is never free for a moment and the replacement cannot fail to bind.
        const listener = old.handOver();
        this.#tunnels.delete(req.connection);
        this.#keepUntilIdle(old, old.grant.id !== req.grant.id);
        tunnel = await Tunnel.open(spec, deps, listener ?? undefined);
      } else {
        // Another port: bind it first, so that a port in use leaves the working tunnel as it was.
        tunnel = await Tunnel.open(spec, deps);
        if (old) {
          const wasOpen = old.state === 'open' && old.grant.id !== req.grant.id;
          this.#tunnels.delete(req.connection);
          old.retire();
          this.#keepUntilIdle(old, wasOpen);
        }
      }
      this.#tunnels.set(req.connection, tunnel);
      return tunnel.info();
    });
  }

  /** Closes one connection's tunnel and ends its client streams. */
  close(connection: string): Promise<string[]> {
    return this.#serial(async () => {
      const t = this.#tunnels.get(connection);
      if (!t) {
        throw new HoopError('not_found', `no tunnel is open for ${connection}`, { hint: 'see `hoop agent status`' });
      }
      this.#tunnels.delete(connection);
      const wasOpen = t.state === 'open';
      await t.close();
      this.#logger.info('tunnel closed', { connection });
      if (wasOpen) await this.#release(t);
      return [connection];
    });
  }

  /** Closes every tunnel (replaced ones too) and ends all client streams. */
  closeAll(): Promise<string[]> {
    return this.#serial(async () => {
      const names = [...this.#tunnels.keys()];
      const open = [...this.#tunnels.values()].filter((t) => t.state === 'open');
      const retired = [...this.#retired.keys()];
      const releaseRetired = retired.filter((t) => this.#retired.get(t) === true);
      const all = [...this.#tunnels.values(), ...retired];
      this.#tunnels.clear();
      this.#retired.clear();
      await Promise.all(all.map((t) => t.close()));
      if (names.length > 0) this.#logger.info('tunnels closed', { connections: names });
      await Promise.all([...open, ...releaseRetired].map((t) => this.#release(t)));
      return names;
    });
  }

  /** Closes everything and refuses further opens. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    await this.closeAll();
  }

  status(): TunnelInfo[] {
    return [...this.#tunnels.values()].map((t) => t.info());
  }

  get(connection: string): Tunnel | undefined {
    return this.#tunnels.get(connection);
  }

  /** Keeps a replaced tunnel until its last client stream ends, then releases its grant if `release`. */
  #keepUntilIdle(t: Tunnel, release: boolean): void {
    if (t.activeClients === 0) {
      if (release) void this.#release(t);
      return;
    }
    this.#retired.set(t, release);
    void t.idle().then(() => {
      // Still here: nobody closed everything meanwhile (closeAll releases what it closes itself).
      if (this.#retired.delete(t) && release) void this.#release(t);
    });
  }

  /** Revokes the tunnel's grant at the gateway, best effort and bounded in time; never throws. */
  async #release(t: Tunnel): Promise<void> {
    const releaseGrant = this.#opts.releaseGrant;
    if (!releaseGrant) return;
    const grant = t.grant;
    try {
      await withTimeout(releaseGrant(grant, t.gatewayUrl, t.accessToken), RELEASE_TIMEOUT_MS);
      this.#logger.info('grant released', { connection: t.connection, grant_id: grant.id });
    } catch (e) {
      this.#logger.warn('could not release the grant; it stays valid until it expires', {
        connection: t.connection, grant_id: grant.id, expires_at: grant.expires_at, error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
