/**
 * Starts the agent daemon in the background when it is not running: used by `hoop agent start` and by
 * `hoop connect`. The daemon is `hoop agent run`, detached, with its output appended to the agent log.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HoopError, isHoopError } from '../errors.js';
import { agentLogPath } from '../paths.js';
import { AgentControlClient } from './control-client.js';

export interface EnsureAgentOptions {
  /** The config dir (shared/paths.ts `configDir(env)`); holds the socket, pid file and log. */
  configDir: string;
  /** The environment the daemon gets (HOOP_TOKEN, HOOP_CONFIG_DIR, HOOP_LOG_LEVEL, …). */
  env: Readonly<Record<string, string | undefined>>;
  /** The `hoop` executable script; defaults to {@link defaultHoopBinPath}. */
  binPath?: string;
  /** The Node.js binary; defaults to the current one. */
  execPath?: string;
  /** How long to wait for the control socket to answer; at most 5 s by default. */
  timeoutMs?: number;
}

export interface EnsureAgentResult {
  pid: number;
  /** False when an agent was already answering. */
  started: boolean;
}

const POLL_MS = 50;

/**
 * Node.js flags for the daemon. The agent only moves bytes between sockets: its objects are a few per client
 * connection, and the data itself lives outside the JavaScript heap. V8's default young generation (semi-spaces
 * growing to 16 MB) is sized for allocation-heavy servers; in the agent it grows to about 16 MB resident as soon
 * as a few hundred clients connect, and stays there. 2 MB semi-spaces keep it to a few MB, at the price of more
 * frequent (and, with so little live data, short) scavenges.
 *
 * V8 also counts the buffers that socket reads allocate outside the heap against the old generation's limit,
 * which it sets from the live heap: about 25 MB for the agent's 10. A bulk transfer then ran a full mark-compact
 * for every 15-20 MB relayed (12 in a benchmark run of two 1,000,000-row COPYs), about a third of the agent's CPU
 * per row. A 64 MB floor under that limit leaves bulk transfers without any (docs/performance.md, seventh round).
 * It reserves nothing: it only lets garbage reach 64 MB before a full collection.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--initial-old-space-size=64'];

/** `bin/hoop`, found from this compiled file: dist/shared/agent/spawn.js → ../../../bin/hoop. */
export function defaultHoopBinPath(): string {
  return fileURLToPath(new URL('../../../bin/hoop', import.meta.url));
}

/**
 * Returns the running agent's pid, starting the daemon first if nothing answers on the control socket.
 * Throws `agent_unavailable` (with the log file in the hint) if it does not answer in time.
 */
export async function ensureAgentRunning(opts: EnsureAgentOptions): Promise<EnsureAgentResult> {
  const client = AgentControlClient.forConfigDir(opts.configDir, 2_000);
  const running = await probe(client);
  if (running !== null) return { pid: running, started: false };

  mkdirSync(opts.configDir, { recursive: true, mode: 0o700 });
  const logPath = agentLogPath(opts.configDir);
  const hint = `see the agent log ${logPath}`;
  const fd = openSync(logPath, 'a', 0o600);
  const child: { pid?: number; exit?: string; error?: Error } = {};
  try {
    const proc = spawn(opts.execPath ?? process.execPath, [...AGENT_NODE_FLAGS, opts.binPath ?? defaultHoopBinPath(), 'agent', 'run'], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: withoutCredentials(opts.env),
    });
    proc.once('error', (e) => (child.error = e));
    proc.once('exit', (code, signal) => (child.exit = signal ?? `exit code ${code}`));
    proc.unref();
    child.pid = proc.pid;
  } finally {
    closeSync(fd);
  }

  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  for (;;) {
    const pid = await probe(client);
    if (pid !== null) return { pid, started: true };
    if (child.error) {
      throw new HoopError('agent_unavailable', `cannot start the agent: ${child.error.message}`, { cause: child.error, hint });
    }
    if (child.exit !== undefined) {
      // Another `hoop` may have started an agent at the same moment; this one then exits. Check once more.
      const again = await probe(client);
      if (again !== null) return { pid: again, started: false };
      throw new HoopError('agent_unavailable', `the agent exited while starting (${child.exit})`, { hint });
    }
    if (Date.now() >= deadline) {
      // Ours and useless: stop it rather than leave a half-started daemon behind.
      if (child.pid !== undefined) killQuietly(child.pid);
      const ms = opts.timeoutMs ?? 5_000;
      throw new HoopError('agent_unavailable', `the agent did not answer within ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}`, {
        hint, details: { pid: child.pid },
      });
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The pid of the agent answering on the socket, or null when none does. */
async function probe(client: AgentControlClient): Promise<number | null> {
  try {
    return (await client.status()).pid;
  } catch (e) {
    if (isHoopError(e) && e.code === 'agent_unavailable') return null;
    throw e;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/**
 * Credentials in the environment belong to the command that starts the daemon (a CI job's `HOOP_TOKEN`), not to
 * the daemon, which outlives it and serves every later command: a tunnel brings its own (`access_token`).
 */
const CREDENTIAL_VARIABLES = ['HOOP_TOKEN', 'HOOP_ID_TOKEN', 'HOOP_ID_TOKEN_FILE', 'HOOP_CLIENT_SECRET'];

function withoutCredentials(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out = definedOnly(env);
  for (const k of CREDENTIAL_VARIABLES) delete out[k];
  return out;
}

function definedOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
