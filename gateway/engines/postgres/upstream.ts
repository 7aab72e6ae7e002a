/**
 * Opens the gateway's own session to the target PostgreSQL: TCP, optional TLS (`require` encrypts,
 * `verify-full` also checks the chain and host name), the startup message, and authentication with the
 * credentials the gateway holds (SCRAM-SHA-256, md5 or cleartext). Collects the server's parameters and key.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { HoopError, ProtocolError } from '../../../shared/errors.js';
import type { PostgresConnection } from '../../connections/connection.js';
import { FrameSource } from './frame-source.js';
import {
  BackendTag, DEFAULT_MAX_FRAME, SCRAM_SHA_256, createFramer, decodeBackend, encodePasswordMessage, encodeSaslInitialResponse,
  encodeSaslResponse, encodeSslRequest, encodeStartupMessage, md5Password, saltedPassword, scramContinue, scramFinish, scramStart,
  type ErrorFields, type ScramContinueState, type ScramStartState,
} from './protocol/index.js';

export interface Upstream {
  socket: Socket | TLSSocket;
  source: FrameSource;
  /** ParameterStatus values, in the order the server sent them. */
  parameters: [string, string][];
  backendKey: { pid: number; secret: Buffer } | null;
}

export interface UpstreamOptions {
  target: PostgresConnection;
  /** Startup parameters passed through from the client (application_name, client_encoding, …). */
  clientParams: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * The TLS server name (SNI) to send for a target host: the host itself, or none for an IP address, which SNI may
 * not carry (Node warns with DEP0123). The certificate is still checked against the address.
 * @see https://www.rfc-editor.org/rfc/rfc6066#section-3
 */
export function tlsServerName(host: string): string | undefined {
  return isIP(host) === 0 ? host : undefined;
}

/** Opens a raw connection (with TLS as configured) without the startup message. Used for CancelRequest too. */
export async function dial(target: PostgresConnection, timeoutMs = 10_000): Promise<Socket | TLSSocket> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host: target.host, port: target.port, noDelay: true });
    const timer = setTimeout(() => s.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  }).catch((e: unknown) => {
    throw new HoopError('upstream_unavailable', `cannot reach ${target.name} at ${target.host}:${target.port}: ${(e as Error).message}`, { cause: e });
  });
  socket.setKeepAlive(true, 30_000);
  if (target.tls.mode === 'disable') return socket;

  socket.write(encodeSslRequest());
  const answer = await new Promise<Buffer>((resolve, reject) => {
    socket.once('data', resolve);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed during the TLS request')));
  }).catch((e: unknown) => {
    socket.destroy();
    throw new HoopError('upstream_unavailable', `TLS negotiation with ${target.name} failed: ${(e as Error).message}`, { cause: e });
  });
  socket.removeAllListeners('error');
  socket.removeAllListeners('close');
  // Exactly one byte: anything after 'S' would be plaintext injected ahead of the handshake (CVE-2021-23222).
  if (answer.length !== 1 || answer[0] !== 0x53) {
    socket.destroy();
    throw new HoopError('upstream_unavailable', `${target.name} does not accept TLS, but its connection requires tls.mode ${target.tls.mode}`, {
      hint: 'enable ssl on the server, or set tls.mode: disable for this connection',
    });
  }
  const verify = target.tls.mode === 'verify-full';
  const tlsSocket = tlsConnect({
    socket,
    servername: tlsServerName(target.host),
    host: target.host,
    rejectUnauthorized: verify,
    ...(target.tls.ca ? { ca: target.tls.ca } : {}),
    ...(verify ? {} : { checkServerIdentity: () => undefined }),
  });
  await new Promise<void>((resolve, reject) => {
    tlsSocket.once('secureConnect', resolve);
    tlsSocket.once('error', reject);
  }).catch((e: unknown) => {
    tlsSocket.destroy();
    throw new HoopError('upstream_unavailable', `TLS to ${target.name} failed: ${(e as Error).message}`, {
      cause: e,
      hint: verify ? 'check tls.ca_file and that the certificate names the host' : undefined,
    });
  });
  tlsSocket.removeAllListeners('error');
  tlsSocket.setNoDelay(true);
  return tlsSocket;
}

export async function openUpstream(o: UpstreamOptions): Promise<Upstream> {
  const t = o.target;
  const socket = await dial(t, o.timeoutMs);
  const onAbort = (): void => void socket.destroy();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const source = new FrameSource(socket, createFramer({ startup: false, maxLength: DEFAULT_MAX_FRAME, copyRuns: true }));
  try {
    socket.write(encodeStartupMessage({ ...o.clientParams, user: t.user, database: t.database }));
    let scram: ScramStartState | ScramContinueState | undefined;
    const parameters: [string, string][] = [];
    let backendKey: Upstream['backendKey'] = null;
    for (;;) {
      const f = await source.next();
      if (!f) throw new Error('the server closed the connection during login');
      const m = decodeBackend(f.tag!, f.body);
      switch (m.type) {
        case 'Authentication':
          switch (m.kind) {
            case 'ok':
              break;
            case 'cleartext':
              socket.write(encodePasswordMessage(t.password));
              break;
            case 'md5':
              socket.write(encodePasswordMessage(md5Password(t.user, t.password, m.salt)));
              break;
            case 'sasl': {
              if (!m.mechanisms.includes(SCRAM_SHA_256)) throw new Error(`server offers only ${m.mechanisms.join(', ')}`);
              const first = scramStart(randomBytes(18).toString('base64'));
              scram = first.state;
              socket.write(encodeSaslInitialResponse(SCRAM_SHA_256, first.message));
              break;
            }
            case 'saslContinue': {
              if (scram?.stage !== 'started') throw new ProtocolError('unexpected SASL continue');
              const next = scramContinue(scram, m.data, t.password, memoisedSaltedPassword);
              scram = next.state;
              socket.write(encodeSaslResponse(next.message));
              break;
            }
            case 'saslFinal':
              if (scram?.stage !== 'continued') throw new ProtocolError('unexpected SASL final');
              scramFinish(scram, m.data);
              break;
            case 'other':
              throw new Error(`the server asks for an authentication method hoop does not support (code ${m.code})`);
          }
          break;
        case 'ParameterStatus':
          parameters.push([m.name, m.value]);
          break;
        case 'BackendKeyData':
          // A copy that owns its memory: a slice of the read chunk, or a copy from Node's shared 8 KiB pool, would
          // keep the whole chunk or pool slab alive for as long as the session lasts.
          backendKey = { pid: m.pid, secret: ownedCopy(m.secret) };
          break;
        case 'NegotiateProtocolVersion':
        case 'NoticeResponse':
          break;
        case 'ErrorResponse':
          throw new UpstreamLoginError(m.fields);
        case 'ReadyForQuery':
          o.signal?.removeEventListener('abort', onAbort);
          return { socket, source, parameters, backendKey };
        default:
          if (f.tag !== BackendTag.NoticeResponse) throw new ProtocolError(`unexpected ${m.type} during login`);
      }
    }
  } catch (e) {
    o.signal?.removeEventListener('abort', onAbort);
    socket.destroy();
    if (e instanceof UpstreamLoginError) {
      throw new HoopError('upstream_unavailable', `${t.name} refused the gateway's login: ${e.fields.M ?? 'unknown error'}`, {
        cause: e,
        hint: 'an operator should check the credentials configured for this connection',
        details: { target_sqlstate: e.fields.C }, // the target's code, for logs: the client gets 08001 (it sent no password)
      });
    }
    if (e instanceof HoopError && e.code === 'upstream_unavailable') throw e;
    throw new HoopError('upstream_unavailable', `login to ${t.name} failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * PBKDF2 with 4,096 iterations blocks the event loop for milliseconds on every login. The server's salt and
 * count are fixed per role, so the result is kept, keyed by a hash of password, salt and count (never the
 * password itself), for as long as the process lives. A changed password or salt simply misses.
 */
const SALTED = new Map<string, Buffer>();
function memoisedSaltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  const key = createHash('sha256').update(password).update('\0').update(salt).update(`\0${iterations}`).digest('base64');
  let v = SALTED.get(key);
  if (!v) {
    v = saltedPassword(password, salt, iterations);
    if (SALTED.size > 1000) SALTED.clear();
    SALTED.set(key, v);
  }
  return v;
}

function ownedCopy(b: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}

class UpstreamLoginError extends Error {
  constructor(readonly fields: ErrorFields) {
    super(fields.M ?? 'login refused');
  }
}
