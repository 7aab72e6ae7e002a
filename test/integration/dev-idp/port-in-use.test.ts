/** The dev identity provider on a port another process holds: a configuration error (exit 2), saying why. */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevIdp } from '../../../gateway/dev-idp/provider.js';
import { DEMO_CLIENTS, DEMO_USERS } from '../../../gateway/dev-idp/users.js';
import { exitCodeFor, type HoopError } from '../../../shared/errors.js';

let holder: Server;
let port: number;

beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  port = (holder.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => holder.close(r));
});

describe('createDevIdp on a port in use', () => {
  it('says the address is in use, with a hint, as a configuration error', async () => {
    const e = await createDevIdp({ port, audience: 'hoop', users: DEMO_USERS, clients: DEMO_CLIENTS }).then(
      async (idp) => {
        await idp.close();
        throw new Error('the dev identity provider started on a port in use');
      },
      (x: unknown) => x as HoopError,
    );
    expect(e).toMatchObject({
      code: 'config_invalid',
      message: `the dev identity provider cannot listen on 127.0.0.1:${port}: the address is in use`,
      hint: 'stop the other process, or give the dev identity provider another port',
    });
    expect(exitCodeFor(e.code)).toBe(2);
  });
});
