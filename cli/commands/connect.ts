/** `hoop connect`, `hoop disconnect`, `hoop connections`. */
import type { Command } from 'commander';
import { HoopError, isHoopError } from '../../shared/errors.js';
import { formatDuration, formatSpan } from '../../shared/duration.js';
import { ensureAgentRunning } from '../../shared/agent/spawn.js';
import { tunnelState, type TunnelInfo } from '../../shared/api/agent-control.js';
import { isSameTunnel, tunnelEnd, type TunnelEnd } from '../services/tunnel-watch.js';
import type { CliContext } from '../services/context.js';
import { table } from '../ui/output.js';
import { clockTime } from '../ui/time.js';
import { login } from './login.js';
import { giveBackGrant, obtainGrant, type GrantWithToken } from '../services/grants.js';
import { onBrokenPipe } from '../../shared/broken-pipe.js';
import { insecureHttpOption } from '../services/gateway-url.js';

interface ConnectOptions {
  port?: string;
  duration?: string;
  reason?: string;
  detach?: boolean;
  gateway?: string;
  insecureHttp?: boolean;
  json?: boolean;
}

/** The ready-to-paste client command for a tunnel. */
export function clientCommand(type: string, port: number, subject: string, database: string | undefined): string {
  if (type === 'postgres') return `psql "postgresql://${encodeURIComponent(subject)}@127.0.0.1:${port}/${encodeURIComponent(database ?? 'postgres')}?sslmode=disable"`;
  return `127.0.0.1:${port}`;
}

async function requestGrantLoggingIn(ctx: CliContext, gatewayUrl: string, opts: ConnectOptions, connection: string): Promise<GrantWithToken> {
  const req = { connection, ...(opts.duration ? { duration: opts.duration } : {}), ...(opts.reason ? { reason: opts.reason } : {}) };
  // People wait for a just-in-time approval; with --detach in a script, waiting is still what was asked for.
  const o = { wait: true };
  try {
    return await obtainGrant(ctx, gatewayUrl, req, o);
  } catch (e) {
    // Log in on the spot when a person is at the terminal; scripts get exit code 3 instead.
    if (isHoopError(e) && (e.code === 'login_required' || e.code === 'token_invalid') && process.stdin.isTTY && ctx.env.HOOP_TOKEN === undefined) {
      ctx.out.info(`${e.message}: logging in first.`);
      await login(ctx, { gateway: gatewayUrl, ...(opts.insecureHttp ? { insecureHttp: true } : {}) });
      return obtainGrant(ctx, gatewayUrl, req, o);
    }
    throw e;
  }
}

function parsePort(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new HoopError('usage', `--port ${v} is not a TCP port`, { hint: 'use 0-65535 (0 picks a free port)' });
  return n;
}

export function registerConnect(program: Command, ctx: () => CliContext): void {
  program
    .command('connect')
    .description('get a short-lived grant for a connection and open a local tunnel to it through the agent')
    .argument('<connection>', 'the connection name (see `hoop connections`)')
    .option('--port <n>', 'local port on 127.0.0.1 (default: 5433 for postgres, or a free one; 0 picks any)')
    .option('--duration <d>', 'how long the grant should last, e.g. 30m, 2h (default: the gateway\'s, usually 1h)')
    .option('--reason <text>', 'why you need access; recorded with the grant')
    .option('--detach', 'leave the tunnel open in the agent and return (close it with `hoop disconnect`)')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'with --detach (required): print the tunnel as JSON')
    .addHelpText('after', `
The agent (started if needed) listens on 127.0.0.1 only; clients connect there with any user name and no
password: identity comes from your login, and the database credentials never leave the gateway. The grant is
renewed while your login is valid; when it ends, the tunnel closes and clients see why.

Examples:
  hoop connect shop
  hoop connect shop --port 6543 --duration 2h --reason "INC-1234 refund check" --detach`)
    .action(async (connection: string, opts: ConnectOptions) => {
      // Checked before a grant is asked for: without --detach the tunnel is held in the foreground, so a script
      // reading the JSON would wait for an end that only comes with a signal.
      if (opts.json && !opts.detach) {
        throw new HoopError('usage', '--json needs --detach: without it, hoop connect holds the tunnel in the foreground', {
          hint: `add --detach to print the tunnel as JSON and return: hoop connect ${connection} --detach --json`,
        });
      }
      const c = ctx();
      const gatewayUrl = c.gatewayUrl(opts);
      const port = parsePort(opts.port);
      const grant = await requestGrantLoggingIn(c, gatewayUrl, opts, connection);
      const conns = await c.gateway(gatewayUrl).connections().catch(() => []);
      const database = conns.find((x) => x.name === connection)?.database;
      let tunnel: TunnelInfo;
      try {
        await ensureAgentRunning({ configDir: c.configDir, env: c.env });
        tunnel = await c.agent().openTunnel({
          connection,
          gateway_url: gatewayUrl,
          ...(port !== undefined ? { port } : {}),
          grant,
          // The agent renews with it (kept in its memory with this tunnel); else with the stored login.
          ...(c.env.HOOP_TOKEN !== undefined ? { access_token: c.env.HOOP_TOKEN.trim() } : {}),
        });
      } catch (e) {
        // No tunnel, so no use for the grant: give it back rather than leave it live (best effort).
        await giveBackGrant(c, gatewayUrl, grant.id);
        throw e;
      }
      const cmd = clientCommand(tunnel.type, tunnel.port, grant.subject, database);
      if (opts.detach || !process.stdout.isTTY) {
        if (opts.json) {
          c.out.json({ ...tunnel, client_command: cmd }); // only with --detach (checked above)
        } else {
          c.out.print(`Tunnel to ${connection} open on 127.0.0.1:${tunnel.port} until ${clockTime(grant.expires_at, c.now())} (grant ${grant.id}).`);
          c.out.print(`Connect with:\n    ${cmd}`);
          if (opts.detach) c.out.print(`Close it with: hoop disconnect ${connection}`);
        }
        if (opts.detach) return;
        const end = await holdTunnel(c, tunnel);
        await closeIfOurs(c, tunnel, end);
        reportEnd(c, connection, end);
        return;
      }
      const { runConnectView } = await import('../ui/connect-view.js');
      const end = await runConnectView({ ctx: c, gatewayUrl, grant, tunnel, command: cmd });
      await closeIfOurs(c, tunnel, end);
      reportEnd(c, connection, end);
    });

  program
    .command('disconnect')
    .description('close a tunnel the agent holds (or all of them)')
    .argument('[connection]', 'the connection whose tunnel to close')
    .option('--all', 'close every tunnel')
    .action(async (connection: string | undefined, opts: { all?: boolean }) => {
      const c = ctx();
      if (!connection && !opts.all) throw new HoopError('usage', 'name a connection or pass --all', { hint: 'see `hoop connections` for open tunnels' });
      const closed = opts.all ? await c.agent().closeAll() : await c.agent().closeTunnel(connection!);
      c.out.print(closed.length ? `Closed: ${closed.join(', ')}.` : 'No tunnel was open.');
    });

  program
    .command('connections')
    .description('list the connections you can reach, and the tunnels open on this machine')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .action(async (opts: { gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const gatewayUrl = c.gatewayUrl(opts);
      const conns = await c.gateway(gatewayUrl).connections();
      let tunnels: TunnelInfo[] = [];
      try {
        tunnels = (await c.agent().status()).tunnels;
      } catch (e) {
        if (!(isHoopError(e) && e.code === 'agent_unavailable')) throw e;
      }
      const now = c.now().getTime();
      const rows = conns.map((x) => {
        const t = tunnels.find((tt) => tt.connection === x.name);
        return {
          ...x,
          tunnel: t ? { port: t.port, state: tunnelState(t, now), expires_at: t.expires_at, active_clients: t.active_clients, last_error: t.last_error } : null,
        };
      });
      if (opts.json) return c.out.json({ connections: rows });
      if (rows.length === 0) return c.out.print('No connections are configured on this gateway.');
      c.out.print(table(
        ['NAME', 'TYPE', 'DATABASE', 'ACCESS', 'MAX', 'TUNNEL'],
        rows.map((r) => [
          r.name,
          r.type,
          r.database ?? '',
          r.allowed ? (r.requires_approval ? 'approval' : 'yes') : 'no',
          formatSpan(r.max_duration_seconds * 1000),
          tunnelCell(r.tunnel, now),
        ]),
      ));
    });
}

function tunnelCell(t: { port: number; state: string; expires_at: string; active_clients: number } | null, now: number): string {
  if (!t) return '-';
  if (t.state !== 'open') return `127.0.0.1:${t.port} (${t.state}, ${t.active_clients} clients)`;
  return `127.0.0.1:${t.port} (${formatDuration(new Date(t.expires_at).getTime() - now)} left, ${t.active_clients} clients)`;
}

/** How often a foreground tunnel asks the agent how it is. */
const WATCH_MS = 2000;

/**
 * Holds a tunnel in the foreground without a terminal (a script, `nohup`, a pipe): until SIGINT or SIGTERM, the
 * reader of its output going away (a broken pipe, which ends it as Ctrl-C would), or until the agent says it
 * ended. The poll timer is what keeps the process alive while it waits.
 */
function holdTunnel(c: CliContext, ours: TunnelInfo): Promise<TunnelEnd> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (end: TunnelEnd): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      stopPipeWatch();
      resolve(end);
    };
    const onSignal = (): void => finish({ kind: 'interrupted' });
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const stopPipeWatch = onBrokenPipe(onSignal);
    const poll = async (): Promise<void> => {
      const status = await c.agent().status().catch((e: unknown) => (isHoopError(e) && e.code === 'agent_unavailable' ? null : undefined));
      if (settled) return;
      // undefined: the agent did not answer this time (busy); ask again rather than give up on the tunnel.
      const end = status === undefined ? null : tunnelEnd(ours, status, c.now().getTime());
      if (end) finish(end);
      else timer = setTimeout(() => void poll(), WATCH_MS);
    };
    timer = setTimeout(() => void poll(), WATCH_MS);
  });
}

/** After Ctrl-C: closes the tunnel in the agent, unless another `hoop connect` has replaced it since. */
async function closeIfOurs(c: CliContext, ours: TunnelInfo, end: TunnelEnd): Promise<void> {
  if (end.kind !== 'interrupted') return;
  const status = await c.agent().status().catch(() => null);
  const t = status?.tunnels.find((x) => x.connection === ours.connection);
  if (isSameTunnel(ours, t)) await c.agent().closeTunnel(ours.connection).catch(() => undefined);
}

/** Says how the tunnel ended; a revoked or refused grant is an error (exit 4), the rest are not. */
function reportEnd(c: CliContext, connection: string, end: TunnelEnd): void {
  if (end.kind === 'interrupted') {
    c.out.print(`Tunnel to ${connection} closed.`);
    return;
  }
  if (end.kind === 'gone') {
    c.out.print(`Tunnel to ${connection} closed: ${end.why}.`);
    return;
  }
  const why = end.why ?? end.state;
  if (end.state === 'revoked') {
    throw new HoopError('grant_revoked', `the tunnel to ${connection} closed: ${why}`, { hint: `run \`hoop connect ${connection}\` for a new grant, if you still may` });
  }
  if (end.state === 'refused') {
    throw new HoopError('access_denied', `the tunnel to ${connection} closed: ${why}`, { hint: `run \`hoop connect ${connection}\` to find out whether you still have access` });
  }
  c.out.print(`Tunnel to ${connection} closed: ${why}.`);
}
