/**
 * The client address recorded as evidence (`session.opened`) and logged with refusals. A peer can write any
 * `X-Forwarded-For` it likes, so the header is read only when the socket peer is a proxy the operator named
 * (`trusted_proxies`); otherwise the socket's own address is the answer.
 *
 * Behind trusted proxies, each one appends the address it received the request from, so the header is read from
 * the right: the first address that is not itself a trusted proxy is the client. Anything to its left was
 * written by the client and proves nothing.
 */
import { BlockList, isIP } from 'node:net';

/** Matches the operator's trusted proxies: IP addresses and CIDR ranges, v4 and v6. */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly size: number;

  /** `entries` are validated by the config schema (`isAddressOrCidr` in config/schema.ts); an invalid one throws here. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [addr, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#list.addAddress(addr, family);
      else this.#list.addSubnet(addr, Number(bits), family);
    }
    this.size = entries.length;
  }

  has(address: string): boolean {
    if (this.size === 0) return false;
    const a = unmapped(address);
    const family = isIP(a);
    return family !== 0 && this.#list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/**
 * The client's address: the socket peer, unless that peer is a trusted proxy and `forwardedFor` names someone
 * else. An entry that is not an IP address ends the walk (the proxy's own address is kept: nothing is guessed).
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: TrustedProxies): string | null {
  if (peer === undefined) return null;
  if (forwardedFor === undefined || !trusted.has(peer)) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((h) => h.trim());
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) return client;
    client = hop;
    if (!trusted.has(hop)) return client;
  }
  return client; // every hop is a trusted proxy: the left-most is as far back as anyone can tell
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}
