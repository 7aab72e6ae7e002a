/**
 * PostgreSQL's CancelRequest, as a client sends it: a new connection carrying the backend's key and nothing
 * else. `hoop exec` sends it through its own ephemeral tunnel; the gateway routes it to the target.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { connect } from 'node:net';

/** The request code in place of a protocol version: 1234 in the high 16 bits, 5678 in the low. */
const CANCEL_REQUEST_CODE = 80877102;

/** The key a backend gave its client in BackendKeyData. */
export interface BackendKey {
  processId: number;
  secretKey: number;
}

/**
 * The 16-byte CancelRequest: Int32 length 16, Int32 80877102, Int32 process id, Int32 secret key.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST
 */
export function encodeCancelRequest(key: BackendKey): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32BE(16, 0);
  b.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  b.writeInt32BE(key.processId, 8);
  b.writeInt32BE(key.secretKey, 12);
  return b;
}

/**
 * Sends a CancelRequest on a new connection to `host:port`. Resolves true once the other end has closed the
 * connection (the server answers a cancel with nothing but that), false when it could not be sent or the
 * other end did not close within `timeoutMs`. Never rejects: a cancel is best effort, as in every client.
 */
export function sendCancelRequest(o: { host: string; port: number; key: BackendKey; timeoutMs: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: o.host, port: o.port, noDelay: true });
    let failed = false;
    const timer = setTimeout(() => {
      failed = true;
      socket.destroy();
    }, o.timeoutMs);
    socket.once('connect', () => socket.end(encodeCancelRequest(o.key)));
    socket.on('data', () => undefined); // nothing is expected; read it so the close arrives
    socket.once('error', () => (failed = true));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(!failed);
    });
  });
}

/**
 * Cancels the statement in flight on a connection: sends the CancelRequest and waits for `statement` to
 * settle (the server ended it), at most `timeoutMs` in all. True when the statement ended in time; false when
 * the cancel could not be sent or the statement went on past the deadline (it may still be running).
 */
export async function cancelStatement(o: {
  host: string;
  port: number;
  key: BackendKey;
  statement: Promise<unknown>;
  timeoutMs: number;
}): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), o.timeoutMs)));
  const ended = o.statement.then(() => true, () => true);
  const sent = sendCancelRequest({ host: o.host, port: o.port, key: o.key, timeoutMs: o.timeoutMs });
  try {
    return await Promise.race([ended, deadline, sent.then((ok) => (ok ? deadline : false))]);
  } finally {
    clearTimeout(timer);
  }
}
