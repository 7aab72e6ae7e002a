/** Ports for tests that must name one (the demo refuses port 0: its URLs are printed for people). */
import { createServer, type AddressInfo } from 'node:net';

/** A loopback port nothing listens on now (bound and released): another process may still take it first. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}
