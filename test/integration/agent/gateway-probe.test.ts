/**
 * The agent's check, before a tunnel opens, that it can reach the gateway itself (it may lack the CA trust or
 * the network settings of the `hoop connect` that asks for the tunnel).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createGatewayProbe } from '../../../agent/gateway-probe.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function serve(s: Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

describe('gateway probe', () => {
  it('any HTTP answer means reachable, a gateway still starting (503) included', async () => {
    const port = await serve(createHttpServer((_req, res) => res.writeHead(503).end('starting')));
    await expect(createGatewayProbe()(`http://127.0.0.1:${port}`)).resolves.toBeUndefined();
  });

  it('a certificate this process does not trust is named, with what to do', async () => {
    const port = await serve(createHttpsServer({ cert: readFileSync(inject('tlsCertFile')), key: readFileSync(inject('tlsKeyFile')) }, (_req, res) => res.end('ok')));
    const err = await createGatewayProbe()(`https://127.0.0.1:${port}`).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'gateway_unreachable',
      message: expect.stringMatching(new RegExp(`^the agent cannot reach the gateway at https://127\\.0\\.0\\.1:${port}: its TLS certificate is not trusted \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\)$`)),
      hint: expect.stringContaining('NODE_EXTRA_CA_CERTS'),
    });
  });

  it('a closed port is named, and a gateway that never answers times out', async () => {
    const closed = await serve(createHttpServer());
    await new Promise((r) => servers.pop()!.close(r));
    await expect(createGatewayProbe()(`http://127.0.0.1:${closed}`)).rejects.toMatchObject({
      code: 'gateway_unreachable', message: `the agent cannot reach the gateway at http://127.0.0.1:${closed}: connection refused`,
    });
    const silent = await serve(createHttpServer(() => undefined));
    await expect(createGatewayProbe({ timeoutMs: 300 })(`http://127.0.0.1:${silent}`)).rejects.toMatchObject({
      message: `the agent cannot reach the gateway at http://127.0.0.1:${silent}: no answer within 0.3 s`,
    });
    for (const s of servers) s.closeAllConnections();
  });
});
