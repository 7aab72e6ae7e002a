/**
 * Stopping `hoop gateway start` the way people do: Ctrl-C at the terminal (SIGINT to the whole foreground process
 * group), `timeout` / `kill -- -PGID` / a supervisor signalling the group (SIGTERM), or closing the terminal
 * (SIGHUP to its foreground group). The gateway runs its embedded PostgreSQL; the signal must not reach that
 * server before the gateway has written its last records. What it says meanwhile, and when its start fails, is
 * JSON lines, as the rest of its log.
 *
 * Needs `script` (Debian's bsdutils, installed by .ci/run when missing) to give the gateway a real terminal to
 * lose. Nothing else: the gateway's embedded PostgreSQL comes from npm, and its identity provider is never
 * contacted (no one logs in).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../gateway/store/embedded.js';
import { createLogger } from '../../shared/log.js';
import { alive, gone, postmasterPid } from '../helpers/process.js';
import { HOOP_BIN, runHoop } from '../helpers/stack.js';

const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function writeConfig(dir: string): Promise<string> {
  const config = join(dir, 'gateway.yaml');
  await writeFile(config, [
    'listen: 127.0.0.1:0',
    `data_dir: ${join(dir, 'data')}`,
    'identity:',
    '  issuer: http://127.0.0.1:9/',
    '  allow_insecure_http: true',
    '  cli_client_id: hoop-cli',
    '  audience: hoop',
    'connections: []',
    '',
  ].join('\n'));
  return config;
}

/** Starts the gateway as the leader of its own process group, as a shell starts a foreground job. */
async function startGatewayProcess(dir: string, until = '"gateway listening"'): Promise<{ pid: number; stderr: () => string; exited: Promise<number | null> }> {
  const config = await writeConfig(dir);
  const child = spawn(process.execPath, [HOOP_BIN, 'gateway', 'start', '--config', config], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOOP_LOG_LEVEL: 'info' },
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start:\n${stderr}`)), 90_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes(until)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`the gateway exited (${code}) before it printed ${until}:\n${stderr}`)));
  });
  return { pid: child.pid!, stderr: () => stderr, exited };
}

/** The evidence, read back from the stopped gateway's data dir: the final checkpoint covers the chain's last record. */
async function expectFinalCheckpoint(dir: string): Promise<void> {
  const embedded = await startEmbeddedPostgres({
    dataDir: join(dir, 'data', 'postgres'), logger: createLogger({ level: 'warn', write: () => undefined }),
    password: (await readFile(join(dir, 'data', 'postgres.password'), 'utf8')).trim(),
  });
  try {
    const client = new pg.Client({ connectionString: embedded.url.replace(/\/postgres$/, '/hoop') });
    await client.connect();
    try {
      const { rows } = await client.query<{ head: string; checkpoint: string | null }>(
        'SELECT (SELECT max(seq) FROM audit_log)::text AS head, (SELECT max(seq) FROM audit_checkpoints)::text AS checkpoint');
      expect(Number(rows[0]!.head)).toBeGreaterThan(0);
      expect(rows[0]!.checkpoint).toBe(rows[0]!.head);
    } finally {
      await client.end();
    }
  } finally {
    await embedded.stop();
  }
}

/** `hoop gateway start` logs JSON lines: every line on its stderr parses, the shutdown notice included. */
function expectJsonLines(stderr: string): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
}

describe('stopping `hoop gateway start` with a signal to its process group', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s: the embedded PostgreSQL outlives the gateway\'s shutdown, which signs a final checkpoint over every record', async (signal) => {
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-signal-'));
    dirs.push(dir);
    const gw = await startGatewayProcess(dir);
    const server = await postmasterPid(join(dir, 'data', 'postgres'));

    process.kill(-gw.pid, signal); // the whole group, as the terminal's Ctrl-C or `timeout` sends it
    expect(await gw.exited, gw.stderr()).toBe(0);
    expect(gw.stderr()).toContain('shutting down');
    expect(gw.stderr().trimEnd().split('\n').at(-1)).toContain('"msg":"stopped"'); // the last word, once all is done
    expectJsonLines(gw.stderr());
    expect(gw.stderr()).not.toContain('shutdown step failed');
    expect(gw.stderr()).not.toMatch(/57P01|57P03|terminating connection due to administrator command/);
    expect(alive(server)).toBe(false); // stopped by the gateway, as its last step

    await expectFinalCheckpoint(dir);
  }, 180_000);

  it('a signal during start-up is not an abrupt death: the gateway finishes starting, then shuts down cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-signal-'));
    dirs.push(dir);
    const gw = await startGatewayProcess(dir, '"embedded PostgreSQL started"'); // migrations and the rest still to come
    const server = await postmasterPid(join(dir, 'data', 'postgres'));
    process.kill(-gw.pid, 'SIGINT');
    expect(await gw.exited, gw.stderr()).toBe(0);
    expect(gw.stderr()).toContain('shutting down');
    expect(gw.stderr()).not.toContain('shutdown step failed');
    expect(await gone(server)).toBe(true);
  }, 180_000);

  it('a second signal stops the gateway at once, and its embedded PostgreSQL with it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-signal-'));
    dirs.push(dir);
    const gw = await startGatewayProcess(dir);
    const server = await postmasterPid(join(dir, 'data', 'postgres'));
    process.kill(-gw.pid, 'SIGINT');
    for (let i = 0; i < 200 && !gw.stderr().includes('shutting down'); i++) await new Promise((r) => setTimeout(r, 10));
    process.kill(-gw.pid, 'SIGINT');
    // The second signal usually comes while the graceful shutdown still runs (exit 130); it may come after (exit 0).
    const code = await gw.exited;
    expect([0, 130], gw.stderr()).toContain(code);
    if (code === 130) expect(gw.stderr()).toContain('SIGINT again: stopping at once');
    expectJsonLines(gw.stderr());
    expect(await gone(server)).toBe(true); // no server left behind either way
  }, 180_000);

  it('closing its terminal (a real pseudo-terminal hung up under it) still ends in a clean shutdown', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-signal-'));
    dirs.push(dir);
    const config = await writeConfig(dir);
    // script runs the gateway on a new pseudo-terminal, as its foreground job; its output is the terminal's.
    const term = spawn('script', ['-qfec', `"${process.execPath}" "${HOOP_BIN}" gateway start --config "${config}"`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HOOP_LOG_LEVEL: 'info' },
    });
    let screen = '';
    term.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    for (let i = 0; i < 900 && !screen.includes('"gateway listening"'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(screen).toContain('"gateway listening"');
    const server = await postmasterPid(join(dir, 'data', 'postgres'));
    const gateway = Number.parseInt((await readFile(`/proc/${server}/stat`, 'utf8')).split(') ')[1]!.split(' ')[1]!, 10);
    term.kill('SIGKILL'); // the terminal goes away: the kernel sends SIGHUP to the job on it
    expect(await gone(gateway)).toBe(true);
    expect(await gone(server)).toBe(true);
    await expectFinalCheckpoint(dir);
  }, 180_000);
});

describe('`hoop gateway start` that cannot start', () => {
  it('says why in a JSON log line (with the code and the hint), and exits with the code\'s status', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hoop-gw-signal-'));
    dirs.push(dir);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = await runHoop(['gateway', 'start', '--config', await writeConfig(dir), '--listen', `127.0.0.1:${port}`], { env: { HOOP_LOG_LEVEL: 'info' } });
      expect(r.code, r.stderr).toBe(2);
      expectJsonLines(r.stderr);
      const last = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(last).toMatchObject({ level: 'error', msg: `cannot listen on 127.0.0.1:${port}: the address is in use`, code: 'config_invalid', hint: expect.stringContaining('HOOP_LISTEN') as string });
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });
});
