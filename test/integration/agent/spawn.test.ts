/**
 * shared/agent/spawn.ts with real processes. The daemon is a stand-in script that speaks the control API
 * (there is no TypeScript loader at run time; the real `bin/hoop agent run` is covered by the end-to-end tests).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../agent/main.js';
import { AGENT_NODE_FLAGS, ensureAgentRunning } from '../../../shared/agent/spawn.js';
import { agentLogPath, agentSocketPath } from '../../../shared/paths.js';
import { alive } from '../../helpers/process.js';

const FAKE_AGENT = `
import { createServer } from 'node:http';
import { join } from 'node:path';
const [, , cmd, sub] = process.argv;
if (cmd !== 'agent' || sub !== 'run') process.exit(64);
if (process.env.FAKE_MODE === 'crash') { console.error('fake agent: cannot start'); process.exit(3); }
if (process.env.FAKE_MODE === 'mute') setInterval(() => {}, 1000);
else {
  const started = new Date().toISOString();
  const server = createServer((req, res) => {
    const send = (body) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    if (req.url === '/v1/status') return send({ pid: process.pid, version: 'fake', started_at: started, tunnels: [] });
    if (req.url === '/v1/shutdown') { res.on('finish', () => server.close(() => process.exit(0))); server.closeIdleConnections(); return send({ ok: true }); }
    res.writeHead(404).end('{}');
  });
  server.listen(join(process.env.HOOP_CONFIG_DIR, 'agent.sock'), () => console.log('fake agent listening, token=' + (process.env.HOOP_TOKEN ? 'set' : 'unset')));
}
`;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(): { dir: string; bin: string } {
  const base = mkdtempSync(join(tmpdir(), 'hoop-spawn-'));
  const bin = join(base, 'fake-hoop.mjs');
  writeFileSync(bin, FAKE_AGENT);
  const dir = join(base, 'config');
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  return { dir, bin };
}

function killLater(pid: number): void {
  cleanups.push(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
}


describe('ensureAgentRunning', () => {
  it('starts a detached agent that answers on the socket, logs to the agent log, and is found the second time', async () => {
    const { dir, bin } = setup();
    const env = { ...process.env, HOOP_CONFIG_DIR: dir, HOOP_TOKEN: 'ci-token' };
    const first = await ensureAgentRunning({ configDir: dir, env, binPath: bin });
    killLater(first.pid);
    expect(first.started).toBe(true);
    expect(first.pid).not.toBe(process.pid);
    expect(alive(first.pid)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // The daemon outlives the command that starts it and serves later ones: it takes no credentials with it.
    await expect.poll(() => readFileSync(agentLogPath(dir), 'utf8')).toContain('fake agent listening, token=unset');
    expect(statSync(agentLogPath(dir)).mode & 0o777).toBe(0o600);

    const second = await ensureAgentRunning({ configDir: dir, env, binPath: bin });
    expect(second).toEqual({ pid: first.pid, started: false });

    // `hoop agent stop` asks it to shut down and waits until the process is gone.
    const out: string[] = [];
    const code = await main(['stop'], { HOOP_CONFIG_DIR: dir }, { stdout: (t) => out.push(t), stderr: (t) => out.push(t) });
    expect(code).toBe(0);
    expect(out).toEqual([`agent stopped (pid ${first.pid})`]);
    expect(alive(first.pid)).toBe(false);
    expect(existsSync(agentSocketPath(dir))).toBe(false);
  });

  it('starts the daemon with the agent\'s Node.js flags (a small young generation, a floor under the old one)', async () => {
    const { dir, bin } = setup();
    writeFileSync(bin, `console.log('execArgv=' + JSON.stringify(process.execArgv));\n${FAKE_AGENT}`);
    const env = { ...process.env, HOOP_CONFIG_DIR: dir };
    const started = await ensureAgentRunning({ configDir: dir, env, binPath: bin });
    killLater(started.pid);
    expect(AGENT_NODE_FLAGS).toEqual(['--max-semi-space-size=2', '--initial-old-space-size=64']);
    await expect.poll(() => readFileSync(agentLogPath(dir), 'utf8')).toContain('execArgv=["--max-semi-space-size=2","--initial-old-space-size=64"]');
  });

  it('an agent that exits while starting is reported with the log file to look at', async () => {
    const { dir, bin } = setup();
    const env = { ...process.env, HOOP_CONFIG_DIR: dir, FAKE_MODE: 'crash' };
    const err = await ensureAgentRunning({ configDir: dir, env, binPath: bin }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'agent_unavailable', message: 'the agent exited while starting (exit code 3)', hint: `see the agent log ${agentLogPath(dir)}` });
    expect(readFileSync(agentLogPath(dir), 'utf8')).toContain('fake agent: cannot start');
  });

  it('an agent that never answers is given up on after the timeout', async () => {
    const { dir, bin } = setup();
    const env = { ...process.env, HOOP_CONFIG_DIR: dir, FAKE_MODE: 'mute' };
    const t0 = Date.now();
    const err = await ensureAgentRunning({ configDir: dir, env, binPath: bin, timeoutMs: 600 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(err).toMatchObject({ code: 'agent_unavailable', message: 'the agent did not answer within 600 ms' });
    // The half-started process is not left behind.
    const pid = (err as { details: { pid: number } }).details.pid;
    killLater(pid);
    await expect.poll(() => alive(pid)).toBe(false);
  });
});
