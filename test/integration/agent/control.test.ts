/**
 * The daemon in-process: control socket permissions, the control API through AgentControlClient, stale sockets,
 * shutdown, and `hoop agent status|stop` output.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../../agent/daemon.js';
import { main } from '../../../agent/main.js';
import { createWsDialer } from '../../../shared/tunnel/ws-dialer.js';
import { AgentControlClient } from '../../../shared/agent/control-client.js';
import { HoopError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { agentPidPath, agentSocketPath } from '../../../shared/paths.js';
import { startGatewayStandIn } from './gateway-stand-in.js';
import { grantFixture, readBytes, connectTo, tryConnect } from './helpers.js';

const TOKEN = 'grant-token-do-not-log-4b1d';
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempConfigDir(): string {
  const base = mkdtempSync(join(tmpdir(), 'hoop-agent-'));
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  return join(base, 'config'); // does not exist yet: the daemon creates it
}

async function daemon(dir: string): Promise<{ d: Daemon; logs: string[] }> {
  const logs: string[] = [];
  const d = await startDaemon({
    configDir: dir,
    version: '9.9.9',
    logger: createLogger({ level: 'trace', write: (l) => logs.push(l) }),
    registry: { dialerFor: (url) => createWsDialer({ gatewayUrl: url }) },
  });
  cleanups.push(() => d.close());
  return { d, logs };
}

function io(): { out: string[]; err: string[]; io: { stdout: (t: string) => void; stderr: (t: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } };
}

describe('agent daemon and control socket', () => {
  it('creates the config dir 0700, the control socket 0600 and a pid file', async () => {
    const dir = tempConfigDir();
    await daemon(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const sock = statSync(agentSocketPath(dir));
    expect(sock.isSocket()).toBe(true);
    expect(sock.mode & 0o777).toBe(0o600);
    expect(readFileSync(agentPidPath(dir), 'utf8').trim()).toBe(String(process.pid));
  });

  it('opens, reports and closes tunnels over the socket with AgentControlClient', async () => {
    const dir = tempConfigDir();
    const gw = await startGatewayStandIn({ tokens: new Set([TOKEN]) });
    cleanups.push(() => gw.close());
    const { logs } = await daemon(dir);
    const client = AgentControlClient.forConfigDir(dir);

    const empty = await client.status();
    expect(empty).toMatchObject({ pid: process.pid, version: '9.9.9', tunnels: [] });

    const info = await client.openTunnel({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture(TOKEN, Date.now() + 3_600_000) });
    expect(info).toMatchObject({ connection: 'shop', host: '127.0.0.1', grant_id: 'grant-1' });
    const c = await connectTo(info.port);
    c.write('select 1');
    expect((await readBytes(c, 8)).toString()).toBe('select 1');

    const st = await client.status();
    expect(st.tunnels).toHaveLength(1);
    expect(st.tunnels[0]).toMatchObject({ connection: 'shop', port: info.port, active_clients: 1, total_clients: 1, bytes_from_clients: 8 });
    expect(JSON.stringify(st)).not.toContain(TOKEN);

    expect(await client.closeTunnel('shop')).toEqual(['shop']);
    expect(await tryConnect(info.port)).toBe('ECONNREFUSED');
    await expect(client.closeTunnel('shop')).rejects.toMatchObject({ code: 'not_found', message: 'no tunnel is open for shop' });

    await client.openTunnel({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture(TOKEN, Date.now() + 3_600_000) });
    expect(await client.closeAll()).toEqual(['shop']);
    expect((await client.status()).tunnels).toEqual([]);
    c.destroy();
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('answers a bad request with a problem naming the field, never echoing the token', async () => {
    const dir = tempConfigDir();
    await daemon(dir);
    const client = AgentControlClient.forConfigDir(dir);
    const bad = { connection: 'shop', gateway_url: 'not a url', grant: grantFixture(TOKEN, Date.now() + 60_000) };
    const err = await client.openTunnel(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoopError);
    expect((err as HoopError).code).toBe('usage');
    expect((err as HoopError).message).toMatch(/^invalid tunnel request: gateway_url: /);
    expect((err as HoopError).message).not.toContain(TOKEN);
  });

  it('removes a stale socket file left by a dead agent, and refuses to start beside a live one', async () => {
    const dir = tempConfigDir();
    const first = await daemon(dir);
    await expect(startDaemon({ configDir: dir, version: 'x', logger: createLogger({ level: 'silent' }), registry: { dialerFor: () => { throw new Error('unused'); } } }))
      .rejects.toMatchObject({ code: 'conflict' });
    expect((await AgentControlClient.forConfigDir(dir).status()).version).toBe('9.9.9'); // the live one is untouched
    await first.d.close();

    // A socket file nobody listens on: an agent killed with SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('ready'))", agentSocketPath(dir)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(child.stdout, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(statSync(agentSocketPath(dir)).isSocket()).toBe(true);
    expect(await new Promise((r) => connect(agentSocketPath(dir)).once('error', (e: NodeJS.ErrnoException) => r(e.code)))).toBe('ECONNREFUSED');

    await daemon(dir);
    expect((await AgentControlClient.forConfigDir(dir).status()).version).toBe('9.9.9');
    expect(statSync(agentSocketPath(dir)).isSocket()).toBe(true);
  });

  it('shuts down over the socket: tunnels closed, socket and pid file removed', async () => {
    const dir = tempConfigDir();
    const gw = await startGatewayStandIn({ tokens: new Set([TOKEN]) });
    cleanups.push(() => gw.close());
    const { d } = await daemon(dir);
    const client = AgentControlClient.forConfigDir(dir);
    const info = await client.openTunnel({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture(TOKEN, Date.now() + 3_600_000) });
    await client.shutdown();
    await d.closed;
    expect(existsSync(agentSocketPath(dir))).toBe(false);
    expect(existsSync(agentPidPath(dir))).toBe(false);
    expect(await tryConnect(info.port)).toBe('ECONNREFUSED');
    await expect(client.status()).rejects.toMatchObject({ code: 'agent_unavailable', hint: 'run `hoop agent start`' });
  });

  it('`hoop agent status` prints a table (or JSON) of the tunnels', async () => {
    const dir = tempConfigDir();
    const gw = await startGatewayStandIn({ tokens: new Set([TOKEN]) });
    cleanups.push(() => gw.close());
    await daemon(dir);
    const info = await AgentControlClient.forConfigDir(dir).openTunnel({
      connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture(TOKEN, Date.now() + 3_600_000),
    });
    const env = { HOOP_CONFIG_DIR: dir };

    const table = io();
    expect(await main(['status'], env, table.io)).toBe(0);
    const text = table.out.join('\n');
    expect(text).toContain(`agent running (pid ${process.pid}, version 9.9.9`);
    expect(text).toMatch(/CONNECTION\s+ADDRESS\s+STATE\s+EXPIRES IN/);
    expect(text).toMatch(new RegExp(`shop\\s+127\\.0\\.0\\.1:${info.port}\\s+open\\s+(59m|1h)`));

    const json = io();
    expect(await main(['agent', 'status', '--json'], env, json.io)).toBe(0);
    const parsed = JSON.parse(json.out.join('\n')) as { running: boolean; started_at: string; tunnels: Array<{ port: number }> };
    expect(parsed.running).toBe(true);
    expect(parsed.started_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/); // ISO in JSON; the table has 04:13:44Z
    expect(text).toMatch(/agent running \(pid \d+, version 9\.9\.9, since \d{2}:\d{2}:\d{2}Z\)/);
    expect(parsed.tunnels[0]!.port).toBe(info.port);
    expect(json.out.join('\n')).not.toContain(TOKEN);
  });

  it('`hoop agent run` serves until SIGTERM, then closes everything and returns 0', async () => {
    const dir = tempConfigDir();
    const gw = await startGatewayStandIn({ tokens: new Set([TOKEN]) });
    cleanups.push(() => gw.close());
    const exit = main(['run'], { HOOP_CONFIG_DIR: dir, HOOP_LOG_LEVEL: 'silent' });
    const client = AgentControlClient.forConfigDir(dir);
    await expect.poll(() => client.status().then((s) => s.pid, () => 0)).toBe(process.pid);
    expect(statSync(agentSocketPath(dir)).mode & 0o777).toBe(0o600);
    const info = await client.openTunnel({ connection: 'shop', gateway_url: gw.url, port: 0, grant: grantFixture(TOKEN, Date.now() + 3_600_000) });
    const c = await connectTo(info.port);
    c.write('x');
    await readBytes(c, 1);
    const closed = new Promise<void>((r) => c.once('close', () => r()));

    process.emit('SIGTERM');
    process.emit('SIGTERM'); // a second signal while stopping changes nothing
    expect(await exit).toBe(0);
    await closed;
    expect(existsSync(agentSocketPath(dir))).toBe(false);
    expect(existsSync(agentPidPath(dir))).toBe(false);
    expect(await tryConnect(info.port)).toBe('ECONNREFUSED');
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('`hoop agent status|stop` without an agent: a clear message and the fix', async () => {
    const dir = tempConfigDir();
    const env = { HOOP_CONFIG_DIR: dir };
    const st = io();
    expect(await main(['status'], env, st.io)).toBe(1);
    expect(st.err).toEqual(['error: the hoop agent is not running', 'hint: run `hoop agent start`']);
    expect(st.out).toEqual([]);
    // A script gets a document it can read, with the running case's keys; the exit code still says it is an error.
    const json = io();
    expect(await main(['status', '--json'], env, json.io)).toBe(1);
    expect(JSON.parse(json.out.join('\n'))).toEqual({ running: false, pid: null, version: null, started_at: null, tunnels: [] });
    expect(json.err).toEqual(['error: the hoop agent is not running', 'hint: run `hoop agent start`']);
    const stop = io();
    expect(await main(['stop'], env, stop.io)).toBe(0);
    expect(stop.out).toEqual(['agent is not running']);
    const bad = io();
    expect(await main(['frobnicate'], env, bad.io)).toBe(2);
    expect(bad.err[0]).toBe('error: unknown command "agent frobnicate"');
  });

  it('every subcommand takes --help (or -h): the usage, exit 0, and nothing done', async () => {
    const env = { HOOP_CONFIG_DIR: tempConfigDir() };
    for (const args of [['start', '--help'], ['stop', '-h'], ['status', '--help'], ['run', '--help'], ['--help']]) {
      const h = io();
      expect(await main(args, env, h.io), args.join(' ')).toBe(0);
      expect(h.out.join('\n')).toMatch(/^usage: hoop agent <command>[\s\S]*Examples:/);
      expect(h.err).toEqual([]);
    }
  });
});
