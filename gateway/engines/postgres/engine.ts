/** The PostgreSQL engine: accepts tunnels carrying the PostgreSQL protocol. */
import type { Duplex } from 'node:stream';
import type { HoopError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/log.js';
import type { Engine, EngineSession, SessionContext } from '../engine.js';
import { CancelRegistry, type CancelRelay } from './cancel-registry.js';
import type { Catalog } from './catalog.js';
import { readClientHello } from './client-startup.js';
import { FrameSource } from './frame-source.js';
import { MAX_STARTUP_LENGTH, createFramer, encodeErrorResponse } from './protocol/index.js';
import { PostgresSession, type SessionLimits } from './session.js';
import { routineFor, sqlStateFor } from './sqlstate.js';

export interface PostgresEngineOptions {
  logger: Logger;
  limits?: Partial<SessionLimits>;
  /** The connection's catalog, for masking by column origin (null when the connection does not mask). */
  catalogFor?: (connection: string) => Catalog | null;
  /** Passes cancels between gateway instances sharing a database; without it, only this instance's keys work. */
  cancelRelay?: CancelRelay;
}

export class PostgresEngine implements Engine {
  readonly #cancels: CancelRegistry;
  readonly #limits: SessionLimits;
  readonly #catalogFor: (connection: string) => Catalog | null;

  constructor(o: PostgresEngineOptions) {
    this.#catalogFor = o.catalogFor ?? (() => null);
    this.#cancels = new CancelRegistry(o.logger, o.cancelRelay);
    this.#limits = { maxClientFrame: 256 * 1024 * 1024, ...o.limits };
  }

  accept(client: Duplex, ctx: SessionContext): EngineSession {
    const session = new PostgresSession(client, ctx, { cancels: this.#cancels, limits: this.#limits, catalog: this.#catalogFor(ctx.connection.name) });
    return { done: session.run(), terminate: (reason) => session.terminate(reason) };
  }

  async refuse(client: Duplex, reason: HoopError): Promise<void> {
    client.on('error', () => undefined);
    const source = new FrameSource(client, createFramer({ startup: true, maxLength: MAX_STARTUP_LENGTH }));
    try {
      const hello = await Promise.race([
        readClientHello(client, source),
        new Promise<{ kind: 'gone' }>((r) => setTimeout(() => r({ kind: 'gone' }), 10_000).unref()),
      ]);
      if (hello.kind === 'startup') {
        const message = reason.message.startsWith('hoop:') ? reason.message : `hoop: ${reason.message}`;
        await new Promise<void>((resolve) => {
          client.end(
            encodeErrorResponse({
              severity: 'FATAL', code: sqlStateFor(reason.code), message, routine: routineFor(reason.code), ...(reason.hint ? { hint: reason.hint } : {}),
            }),
            () => resolve(),
          );
        });
        return;
      }
    } catch {
      // malformed handshake: nothing more to say to this client
    }
    client.destroy();
  }
}
