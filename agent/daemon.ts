/**
 * The agent daemon without the process around it: config dir, control socket, pid file and tunnel registry.
 * agent/main.ts wraps it with signals and exit codes; tests run it in-process.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AgentStatus } from '../shared/api/agent-control.js';
import type { Logger } from '../shared/log.js';
import { agentPidPath, agentSocketPath } from '../shared/paths.js';
import { startControlServer, type ControlServer } from './control-server.js';
import { TunnelRegistry, type TunnelRegistryOptions } from './tunnels.js';

export interface DaemonOptions {
  configDir: string;
  logger: Logger;
  version: string;
  registry: Omit<TunnelRegistryOptions, 'logger'>;
  /** Defaults to this process's pid. */
  pid?: number;
  now?: () => Date;
}

export interface Daemon {
  readonly socketPath: string;
  readonly registry: TunnelRegistry;
  status(): AgentStatus;
  /** Closes the control socket and every tunnel, and removes the pid file. Idempotent. */
  close(): Promise<void>;
  /** Settles when the daemon has closed, whether through {@link close} or `POST /v1/shutdown`. */
  readonly closed: Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { configDir, logger } = opts;
  const pid = opts.pid ?? process.pid;
  const startedAt = (opts.now ?? (() => new Date()))().toISOString();
  const socketPath = agentSocketPath(configDir);
  const pidPath = agentPidPath(configDir);
  await mkdir(configDir, { recursive: true, mode: 0o700 });

  const registry = new TunnelRegistry({ ...opts.registry, logger });
  const status = (): AgentStatus => ({ pid, version: opts.version, started_at: startedAt, tunnels: registry.status() });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));

  const control: ControlServer = await startControlServer({
    socketPath,
    logger,
    handlers: {
      status,
      openTunnel: (req) => registry.open(req),
      closeTunnel: (connection) => registry.close(connection),
      closeAll: () => registry.closeAll(),
      shutdown: () => void close(),
    },
  });

  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info('agent stopping');
      await control.close();
      await registry.shutdown();
      await removePidFile(pidPath, pid);
      logger.info('agent stopped');
    })().finally(resolveClosed);
    return closing;
  };

  try {
    await writeFile(pidPath, `${pid}\n`, { mode: 0o600 });
  } catch (e) {
    await control.close();
    throw e;
  }
  logger.info('agent started', { pid, socket: socketPath, version: opts.version });
  return { socketPath, registry, status, close, closed };
}

/** Removes the pid file only if it is still ours (a newer agent may have replaced it). */
async function removePidFile(path: string, pid: number): Promise<void> {
  const content = await readFile(path, 'utf8').catch(() => '');
  if (content.trim() === String(pid)) await rm(path, { force: true });
}
