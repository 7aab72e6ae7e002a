/**
 * `hoop agent start|stop|status|run`: the only place the agent is wired (HOUSE-STYLE habit 10).
 *
 * bin/hoop passes the arguments after `agent` (a leading `agent` is accepted too) and the environment.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AgentControlClient, isAgentNotRunning } from '../shared/agent/control-client.js';
import type { AgentStatus } from '../shared/api/agent-control.js';
import { ensureAgentRunning } from '../shared/agent/spawn.js';
import { EXIT, HoopError, exitCodeFor, toHoopError } from '../shared/errors.js';
import { createLogger, parseLogLevel } from '../shared/log.js';
import { configDir } from '../shared/paths.js';
import { startDaemon } from './daemon.js';
import { createGrantCalls } from './renew.js';
import { createGatewayProbe } from './gateway-probe.js';
import { formatStatus } from './status-table.js';
import { createWsDialer } from '../shared/tunnel/ws-dialer.js';
import { dropOutputOnBrokenPipe } from '../shared/broken-pipe.js';

type Env = Record<string, string | undefined>;

export interface MainIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: MainIo = {
  stdout: (t) => process.stdout.write(t + '\n'),
  stderr: (t) => process.stderr.write(t + '\n'),
};

const USAGE = `usage: hoop agent <command>

  start            start the agent in the background (if it is not running)
  stop             stop the agent, close every tunnel and give their grants back
  status [--json]  show the agent and its tunnels: port, state, expiry, clients, last error
                   (with --json and no agent running: {"running": false, …, "tunnels": []}, exit 1)
  run              run the agent in the foreground (what \`start\` runs)

The agent holds your tunnels: it listens on 127.0.0.1 only, renews their grants while your login is valid, and
logs to agent.log in the config dir. \`hoop connect\` starts it when needed.

Examples:
  hoop agent status
  hoop agent status --json | jq '.tunnels[] | {connection, port, state}'
  hoop agent stop`;

const STOP_WAIT_MS = 5_000;

/** Runs one `hoop agent` command and returns its exit code. */
export async function main(argv: string[], env: Env, io: MainIo = defaultIo): Promise<number> {
  dropOutputOnBrokenPipe(); // `hoop agent status | head -1`
  const args = argv[0] === 'agent' ? argv.slice(1) : argv;
  const [command, ...rest] = args;
  const dir = configDir(env);
  try {
    // `hoop agent start --help` and friends: the usage, like every other command's --help.
    if (command !== undefined && rest.some((a) => a === '--help' || a === '-h')) {
      io.stdout(USAGE);
      return EXIT.ok;
    }
    switch (command) {
      case 'start':
        noExtraArgs(rest);
        return await start(dir, env, io);
      case 'stop':
        noExtraArgs(rest);
        return await stop(dir, io);
      case 'status':
        return await status(dir, rest, io);
      case 'run':
        noExtraArgs(rest);
        return await run(dir, env);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new HoopError('usage', `unknown command "agent ${command}"`, { hint: 'see `hoop agent --help`' });
    }
  } catch (e) {
    const err = toHoopError(e);
    io.stderr(`error: ${err.message}`);
    if (err.hint) io.stderr(`hint: ${err.hint}`);
    return exitCodeFor(err.code);
  }
}

async function start(dir: string, env: Env, io: MainIo): Promise<number> {
  const r = await ensureAgentRunning({ configDir: dir, env, binPath: hoopBinPath() });
  io.stdout(r.started ? `agent started (pid ${r.pid})` : `agent already running (pid ${r.pid})`);
  return EXIT.ok;
}

async function stop(dir: string, io: MainIo): Promise<number> {
  const client = AgentControlClient.forConfigDir(dir);
  let pid: number;
  try {
    pid = (await client.status()).pid;
  } catch (e) {
    if (isAgentNotRunning(e)) {
      io.stdout('agent is not running');
      return EXIT.ok;
    }
    throw e;
  }
  await client.shutdown();
  if (!(await waitForExit(pid, STOP_WAIT_MS))) {
    throw new HoopError('agent_unavailable', `the agent (pid ${pid}) did not exit within ${STOP_WAIT_MS / 1000} s`, {
      hint: `stop it with \`kill ${pid}\``,
    });
  }
  io.stdout(`agent stopped (pid ${pid})`);
  return EXIT.ok;
}

async function status(dir: string, rest: string[], io: MainIo): Promise<number> {
  const json = rest.includes('--json');
  const unknown = rest.filter((a) => a !== '--json');
  if (unknown.length > 0) throw new HoopError('usage', `unknown option "${unknown[0]}" for \`hoop agent status\``);
  let s: AgentStatus;
  try {
    s = await AgentControlClient.forConfigDir(dir).status();
  } catch (e) {
    // A script asked for JSON: it gets a document to read either way. Still an error (exit 1, said on stderr).
    if (json && isAgentNotRunning(e)) io.stdout(JSON.stringify(NOT_RUNNING, null, 2));
    throw e;
  }
  io.stdout(json ? JSON.stringify({ running: true, ...s }, null, 2) : formatStatus(s, Date.now()));
  return EXIT.ok;
}

/** `hoop agent status --json` with no agent: the running case's keys, empty. */
const NOT_RUNNING = { running: false, pid: null, version: null, started_at: null, tunnels: [] } as const;

/** The daemon in the foreground: JSON log lines on stderr, until SIGTERM, SIGINT or `POST /v1/shutdown`. */
async function run(dir: string, env: Env): Promise<number> {
  const version = packageVersion();
  const logger = createLogger({ format: 'json', level: parseLogLevel(env.HOOP_LOG_LEVEL, 'info'), fields: { program: 'agent' } });
  const userAgent = `hoop-agent/${version}`;
  const daemon = await startDaemon({
    configDir: dir,
    logger,
    version,
    registry: {
      dialerFor: (gatewayUrl, connection) => createWsDialer({ gatewayUrl, connection, userAgent }),
      ...createGrantCalls({ env, configDir: dir, userAgent, logger }),
      probe: createGatewayProbe(),
    },
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info('signal received', { signal });
    void daemon.close();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await daemon.closed;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return EXIT.ok;
}

function noExtraArgs(rest: string[]): void {
  if (rest.length > 0) throw new HoopError('usage', `unexpected argument "${rest[0]}"`, { hint: 'see `hoop agent --help`' });
}

/** bin/hoop relative to this compiled file: dist/agent/main.js → ../../bin/hoop. */
function hoopBinPath(): string {
  return fileURLToPath(new URL('../../bin/hoop', import.meta.url));
}

/** The package version, from the package.json above dist/agent/ (or above agent/ when run from source). */
function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'hoop' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An exited daemon stays a zombie until init reaps it (slowly, in some containers): that counts as gone.
  if (process.platform === 'linux') {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }
  return true;
}
