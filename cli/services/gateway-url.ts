/**
 * The one check on a gateway URL, wherever it came from (--gateway, HOOP_GATEWAY_URL, the saved setting or the
 * default): every API call sends the user's bearer token to it, and the agent gets the URL from the CLI. So a
 * plain http:// URL is refused unless it names this machine, or the user opts out by name (--insecure-http,
 * HOOP_INSECURE_HTTP=1).
 */
import { Option } from 'commander';
import { HoopError } from '../../shared/errors.js';
import { isLoopbackHttp } from '../../shared/net/loopback.js';

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8009';

/** The options of every command that talks to a gateway. */
export interface GatewayFlags {
  gateway?: string | undefined;
  insecureHttp?: boolean | undefined;
}

/** `--insecure-http`, for each command that takes `--gateway`. */
export function insecureHttpOption(): Option {
  return new Option(
    '--insecure-http',
    'accept a plain http:// gateway URL on another host: your tokens travel unencrypted (env HOOP_INSECURE_HTTP=1)',
  );
}

/** Where each candidate URL comes from, in precedence order; `saved` is read only when the others are unset. */
export interface GatewayUrlSources {
  flag?: string | undefined;
  env?: string | undefined;
  saved: () => string | undefined;
  /** The settings file, named when the saved URL is refused. */
  savedPath: () => string;
}

/**
 * The gateway URL by precedence (--gateway > HOOP_GATEWAY_URL > saved > default), without a trailing slash.
 * @throws HoopError `usage` for a URL that is not http(s), or plain http to another host without the opt-out
 */
export function resolveGatewayUrl(sources: GatewayUrlSources, allowInsecureHttp: boolean): string {
  // An empty variable (`HOOP_GATEWAY_URL=` in a script) counts as unset, as shells treat it.
  const env = sources.env || undefined;
  const saved = sources.flag === undefined && env === undefined ? sources.saved() : undefined;
  const url = sources.flag ?? env ?? saved ?? DEFAULT_GATEWAY_URL;
  const from = sources.flag !== undefined ? '--gateway'
    : env !== undefined ? 'HOOP_GATEWAY_URL'
    : saved !== undefined ? `the URL saved in ${sources.savedPath()}`
    : 'the default';
  let parsed: URL;
  try {
    parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch (e) {
    throw new HoopError('usage', `"${url}" is not a gateway URL`, { cause: e, hint: 'use a URL such as https://hoop.example.com' });
  }
  if (parsed.protocol === 'http:' && !isLoopbackHttp(url) && !allowInsecureHttp) {
    throw new HoopError('usage', `the gateway URL ${url} (from ${from}) uses plain http: your access tokens would travel to ${parsed.host} unencrypted`, {
      hint: `use ${url.replace(/^http:/i, 'https:').replace(/\/+$/, '')} (plain http is accepted only to this machine: localhost, 127.x.x.x or [::1]); `
        + 'to send tokens unencrypted anyway, pass --insecure-http or set HOOP_INSECURE_HTTP=1',
    });
  }
  return url.replace(/\/+$/, '');
}

/**
 * HOOP_INSECURE_HTTP: `1` or `true` opts out; unset, empty, `0` or `false` does not.
 * @throws HoopError `usage` for any other value, rather than guess which was meant
 */
export function insecureHttpFromEnv(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0' || value.toLowerCase() === 'false') return false;
  if (value === '1' || value.toLowerCase() === 'true') return true;
  throw new HoopError('usage', `HOOP_INSECURE_HTTP=${value} is not 1 or 0`, { hint: 'set HOOP_INSECURE_HTTP=1 to accept a plain http:// gateway URL on another host, or unset it' });
}
