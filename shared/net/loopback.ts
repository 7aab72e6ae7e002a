/**
 * What counts as this machine, one rule for the gateway's config (a listener without TLS, an http issuer) and
 * the CLI (a gateway or issuer it may call without TLS): localhost, ::1 and 127.x.x.x.
 */

/** Whether a host name or address (IPv6 with or without its URL brackets) is this machine's loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** An http: URL to this machine. */
export function isLoopbackHttp(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return u.protocol === 'http:' && isLoopbackHost(u.hostname);
}
