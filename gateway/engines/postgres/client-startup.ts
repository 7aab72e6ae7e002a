/**
 * The client side of the PostgreSQL handshake. The hop from the client to the agent is loopback, so SSLRequest
 * and GSSENCRequest are answered 'N'; the client's own password is never asked for (identity came with the
 * grant). Startup parameters that only shape the session's presentation are passed on; anything else (for
 * instance `options`, which could set arbitrary server settings) stays at the gateway.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 */
import type { Writable } from 'node:stream';
import { ProtocolError } from '../../../shared/errors.js';
import type { FrameSource } from './frame-source.js';
import { decodeStartupPacket, encodeSslNo } from './protocol/index.js';

export type ClientHello =
  | { kind: 'startup'; version: number; params: Record<string, string> }
  | { kind: 'cancel'; pid: number; secret: Buffer }
  | { kind: 'gone' };

/** Startup parameters forwarded to the target (compared case-insensitively, as PostgreSQL does). */
const PASSED_PARAMS = new Set(['application_name', 'client_encoding', 'datestyle', 'timezone', 'intervalstyle', 'extra_float_digits', 'search_path']);

export async function readClientHello(client: Writable, source: FrameSource): Promise<ClientHello> {
  for (let negotiations = 0; ; negotiations++) {
    const frame = await source.next();
    if (!frame) return { kind: 'gone' };
    const packet = decodeStartupPacket(frame.body);
    switch (packet.kind) {
      case 'ssl':
      case 'gssenc':
        if (negotiations >= 2) throw new ProtocolError('too many encryption requests');
        client.write(encodeSslNo());
        continue;
      case 'cancel':
        return { kind: 'cancel', pid: packet.pid, secret: packet.secret };
      case 'startup':
        return { kind: 'startup', version: packet.version, params: packet.params };
    }
  }
}

export function passedParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (PASSED_PARAMS.has(k.toLowerCase())) out[k] = v;
  return out;
}
