/** Which address the evidence records: X-Forwarded-For counts only when the socket peer is a trusted proxy. */
import { describe, expect, it } from 'vitest';
import { clientAddress, TrustedProxies } from '../../../../gateway/server/client-address.js';

const none = new TrustedProxies([]);
const lb = new TrustedProxies(['10.0.0.0/24', '192.0.2.1', 'fd00::/8']);

describe('clientAddress', () => {
  it.each([
    ['no trusted proxies (the default): the header is ignored', none, '10.0.0.5', '203.0.113.9', '10.0.0.5'],
    ['a peer that is not a trusted proxy: the header is ignored', lb, '198.51.100.1', '203.0.113.9', '198.51.100.1'],
    ['a trusted proxy: the address it saw', lb, '10.0.0.5', '203.0.113.9', '203.0.113.9'],
    ['a trusted proxy: the right-most untrusted address, not what the client wrote to its left', lb, '10.0.0.5', '6.6.6.6, 203.0.113.9', '203.0.113.9'],
    ['trusted proxies in a chain are skipped', lb, '10.0.0.5', '203.0.113.9, 192.0.2.1, 10.0.0.7', '203.0.113.9'],
    ['an IPv4-mapped peer on a dual-stack socket', lb, '::ffff:10.0.0.5', '203.0.113.9', '203.0.113.9'],
    ['IPv6 proxies and clients', lb, 'fd00::1', '2001:db8::7', '2001:db8::7'],
    ['every hop trusted: the left-most', lb, '10.0.0.5', '10.0.0.8, 10.0.0.9', '10.0.0.8'],
    ['a hop that is not an address ends the walk at the last good one', lb, '10.0.0.5', '203.0.113.9, garbage', '10.0.0.5'],
    ['an empty header from a trusted proxy', lb, '10.0.0.5', '', '10.0.0.5'],
  ])('%s', (_name, trusted, peer, header, expected) => {
    expect(clientAddress(peer, header, trusted)).toBe(expected);
  });

  it('joins repeated headers, and gives null for a socket with no address', () => {
    expect(clientAddress('10.0.0.5', ['6.6.6.6', '203.0.113.9'], lb)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.5', undefined, lb)).toBe('10.0.0.5');
    expect(clientAddress(undefined, '203.0.113.9', lb)).toBeNull();
  });
});
