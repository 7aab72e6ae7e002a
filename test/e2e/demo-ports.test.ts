/**
 * `hoop demo` when one of its ports is taken: exit 2 (configuration), the reason, and a hint naming the flag
 * that moves that port. The identity provider's port is checked before PostgreSQL starts.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { runHoop } from '../helpers/stack.js';

let holder: Server;
let busy: number;
let free: number;
let dir: string;

beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  busy = (holder.address() as AddressInfo).port;
  free = await freePort();
  dir = await mkdtemp(join(tmpdir(), 'hoop-demo-ports-'));
});

afterAll(async () => {
  await new Promise((r) => holder.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('hoop demo with a port in use', () => {
  it('--idp-port: exit 2 with the reason and the flag, before starting PostgreSQL', async () => {
    const demoDir = join(dir, 'idp');
    const r = await runHoop(['demo', '--idp-port', String(busy), '--port', String(free)], { env: { HOOP_DEMO_DIR: demoDir } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe(
      `error: the dev identity provider cannot listen on 127.0.0.1:${busy}: the address is in use\n`
      + 'hint: stop the other process, or run the demo with --idp-port set to a free port\n',
    );
    expect(r.stdout).toBe('');
    expect(await readdir(demoDir)).toEqual([]);
  });

  it('--port: exit 2 with the reason and the flag (not the config file\'s listen, which the demo does not read)', async () => {
    const r = await runHoop(['demo', '--port', String(busy), '--idp-port', String(free)], { env: { HOOP_DEMO_DIR: join(dir, 'gateway') } });
    expect(r.code, r.stderr).toBe(2);
    // (PostgreSQL started first; its set-up may warn above.)
    expect(r.stderr).toContain(
      `error: cannot listen on 127.0.0.1:${busy}: the address is in use\n`
      + 'hint: stop the other process, or run the demo with --port set to a free port\n',
    );
  });
});
