/**
 * A gateway URL that says http:// for a gateway serving https: the TLS server drops the plain request, which
 * alone reads as "(other side closed)". The error says to try https://, and only in that case.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GatewayClient } from '../../../shared/api/client.js';
import { runHoop } from '../../helpers/stack.js';

let tls: HttpsServer;
let dropper: NetServer;
let tlsPort: number;
let dropperPort: number;

beforeAll(async () => {
  tls = createHttpsServer({ cert: readFileSync(inject('tlsCertFile')), key: readFileSync(inject('tlsKeyFile')) }, (_req, res) => res.end('{}'));
  // Takes each connection and closes it at once, with no TLS and no HTTP.
  dropper = createNetServer((socket) => socket.destroy());
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
  tlsPort = (tls.address() as AddressInfo).port;
  dropperPort = (dropper.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => tls.close(r));
  await new Promise((r) => dropper.close(r));
});

const failure = (baseUrl: string): Promise<unknown> => new GatewayClient({ baseUrl }).wellKnown().then(() => null, (e: unknown) => e);

describe('an http:// URL for a gateway serving https', () => {
  it('fails with a hint to try https://', async () => {
    const e = await failure(`http://127.0.0.1:${tlsPort}`);
    expect(e).toMatchObject({
      code: 'gateway_unreachable',
      message: `cannot reach the gateway at http://127.0.0.1:${tlsPort} (other side closed)`,
      hint: `the gateway may be serving https: try https://127.0.0.1:${tlsPort}`,
    });
  });

  it('hoop login says so', async () => {
    const r = await runHoop(['login', '--no-browser', '--gateway', `http://127.0.0.1:${tlsPort}`], {
      env: { HOOP_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'hoop-http-tls-')) },
    });
    expect(r.code).toBe(9);
    expect(r.stderr).toBe(
      `error: cannot reach the gateway at http://127.0.0.1:${tlsPort} (other side closed)\n`
      + `hint: the gateway may be serving https: try https://127.0.0.1:${tlsPort}\n`,
    );
  });
});

describe('other failures keep their own hint', () => {
  it('an https:// URL whose server drops the connection is not told to try https://', async () => {
    const e = await failure(`https://127.0.0.1:${dropperPort}`);
    expect(e).toMatchObject({ code: 'gateway_unreachable' });
    expect((e as { hint: string }).hint).not.toContain('try https://');
  });

  it('a refused connection is told to check the URL and the gateway', async () => {
    const closed = createNetServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await failure(`http://127.0.0.1:${port}`)).toMatchObject({
      code: 'gateway_unreachable',
      message: `cannot reach the gateway at http://127.0.0.1:${port} (connection refused)`,
      hint: 'check the URL (`hoop login --gateway URL`) and that the gateway is running',
    });
  });
});
