/**
 * The agent's tunnel registry: at most one tunnel per connection, opened, replaced, closed and reported here.
 */
import type { OpenTunnelRequest, TunnelInfo } from '../shared/api/agent-control.js';
import { HoopError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { systemClock, type Clock } from './renewal.js';
import { Tunnel, type RenewGrant } from './tunnel.js';
import type { TunnelDialer } from '../shared/tunnel/ws-dialer.js';

/** The local port a connection type gets when none is asked for (5433: next to a local PostgreSQL's 5432). */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = { postgres: 5433 };

export interface TunnelRegistryOptions {
  /** The transport to a given gateway for a given connection; called once per tunnel. */
  dialerFor: (gatewayUrl: string, connection: string) => TunnelDialer;
  /** Renews grants ahead of expiry; without it, tunnels simply close when their grant expires. */
  renewGrant?: RenewGrant | undefined;
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
  /** Replaced tunnels whose client streams are still live; ended by {@link closeAll}. */
  #retired = new Set<Tunnel>();
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
      const spec = {
        connection: req.connection,
        gatewayUrl: req.gateway_url,
        grant: req.grant,
        port: req.port,
        defaultPort: (this.#opts.defaultPorts ?? DEFAULT_PORTS)[req.grant.type],
      };
      const deps = {
        dialer: this.#opts.dialerFor(req.gateway_url, req.connection),
        renewGrant: this.#opts.renewGrant,
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
        this.#keepUntilIdle(old);
        tunnel = await Tunnel.open(spec, deps, listener ?? undefined);
      } else {
        // Another port: bind it first, so that a port in use leaves the working tunnel as it was.
        tunnel = await Tunnel.open(spec, deps);
        if (old) {
          this.#tunnels.delete(req.connection);
          old.retire();
          this.#keepUntilIdle(old);
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
      await t.close();
      this.#logger.info('tunnel closed', { connection });
      return [connection];
    });
  }

  /** Closes every tunnel (replaced ones too) and ends all client streams. */
  closeAll(): Promise<string[]> {
    return this.#serial(async () => {
      const names = [...this.#tunnels.keys()];
      const all = [...this.#tunnels.values(), ...this.#retired];
      this.#tunnels.clear();
      this.#retired.clear();
      await Promise.all(all.map((t) => t.close()));
      if (names.length > 0) this.#logger.info('tunnels closed', { connections: names });
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

  #keepUntilIdle(t: Tunnel): void {
    if (t.activeClients === 0) return;
    this.#retired.add(t);
    void t.idle().then(() => this.#retired.delete(t));
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
