/**
 * `npm start`, the README's first command, stopped the way a process manager or `timeout` stops it: SIGTERM to
 * npm's own process, not to its process group. npm hands the signal on to its script, so the script must be the
 * demo itself (`exec node bin/hoop demo`): a shell in between dies of the signal and leaves the demo, its
 * identity provider and its PostgreSQL running, with the next `npm start` failing on a port in use.
 *
 * Needs `npm` on PATH (it runs the tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Whether the gateway answers /healthz now. */
async function healthy(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
}

/** After a failure: the demo left running is PostgreSQL's parent; SIGINT stops both, as Ctrl-C would. */
async function stopOrphanedDemo(postmasterPid: string): Promise<void> {
  const pg = existsSync(postmasterPid) ? Number(readFileSync(postmasterPid, 'utf8').split('\n')[0]) : NaN;
  const stat = Number.isInteger(pg) ? readFileSync(`/proc/${pg}/stat`, 'utf8') : '';
  const demo = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  if (Number.isInteger(demo) && demo > 1) process.kill(demo, 'SIGINT');
}

interface Demo {
  npm: ChildProcess;
  port: number;
  idpPort: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * `npm start` on two free ports, once the gateway answers. The ports are free when picked but may be taken by
 * a test running alongside before the demo binds them: that start ends with "the address is in use" (exit 2),
 * and is tried again on two other ports.
 */
async function startDemo(dir: string): Promise<Demo> {
  for (let attempt = 0; ; attempt++) {
    const [port, idpPort] = [await freePort(), await freePort()];
    const npm = spawn('npm', ['start', '--silent', '--', '--port', String(port), '--idp-port', String(idpPort)], {
      cwd: ROOT,
      env: { ...process.env, HOOP_DEMO_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    npm.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    npm.stdout!.resume();
    const exited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
    for (let i = 0; i < 600 && npm.exitCode === null; i++) {
      if (await healthy(port)) return { npm, port, idpPort, stderr: () => stderr, exited };
      await new Promise((r) => setTimeout(r, 200));
    }
    const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 1000))]);
    if (code === 2 && stderr.includes('the address is in use') && attempt < 4) continue;
    if (npm.exitCode === null) npm.kill('SIGKILL');
    throw new Error(`npm start did not come up (exit ${String(code)}):\n${stderr}`);
  }
}

describe('npm start', () => {
  it('stops the demo, its identity provider and its PostgreSQL when npm alone gets SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoop-npm-start-'));
    dirs.push(dir);
    const postmasterPid = join(dir, 'postgres', 'postmaster.pid');
    let demo: Demo | undefined;
    try {
      demo = await startDemo(dir);
      expect(existsSync(postmasterPid)).toBe(true);

      demo.npm.kill('SIGTERM');
      expect(await demo.exited, demo.stderr()).toBe(0);
      // Everything is down by the time npm returns: nothing answers, PostgreSQL has removed its pid file.
      expect(demo.stderr()).toContain('stopped.');
      expect(await healthy(demo.port)).toBe(false);
      expect(await fetch(`http://127.0.0.1:${demo.idpPort}/.well-known/openid-configuration`).then(() => 'answered', () => 'refused')).toBe('refused');
      expect(existsSync(postmasterPid)).toBe(false);
    } finally {
      if (demo && demo.npm.exitCode === null) demo.npm.kill('SIGKILL');
      await stopOrphanedDemo(postmasterPid);
    }
  }, 240_000);
});
