/** One rule for "this machine", shared by the gateway's config and the CLI. */
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, isLoopbackHttp } from '../../../../shared/net/loopback.js';

describe('isLoopbackHost', () => {
  it('is localhost, ::1 (with or without URL brackets) and 127.x.x.x, nothing else', () => {
    for (const h of ['localhost', '::1', '[::1]', '127.0.0.1', '127.8.9.10']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'localhost.example.com', '127.0.0.1.nip.io', '']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('isLoopbackHttp', () => {
  it('is a plain-http URL to this machine', () => {
    for (const u of ['http://127.0.0.1:8009', 'http://localhost/x', 'http://[::1]:8010']) expect(isLoopbackHttp(u), u).toBe(true);
    for (const u of ['https://127.0.0.1:8443', 'http://hoop.example.com', 'http://10.0.0.5', 'not a url']) expect(isLoopbackHttp(u), u).toBe(false);
  });
});
