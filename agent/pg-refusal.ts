/**
 * When the agent cannot open a tunnel (the gateway is down, or refused the grant at the door), a PostgreSQL client
 * would only see its connection closed: psql says "server closed the connection unexpectedly". This answers
 * the client in its own protocol instead, with a FATAL that says why, as the gateway does for grant problems.
 *
 * It reads the client's startup-phase packets: an SSLRequest or GSSENCRequest gets `N` (no encryption here:
 * the client then goes on in plain text, or gives up if it insisted on TLS), a CancelRequest is simply closed,
 * and the StartupMessage gets the ErrorResponse. Bytes the client sent before the failure come first.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import type { Socket } from 'node:net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** A startup-phase packet longer than this is not one: stop reading. */
const MAX_STARTUP = 10_000;
/** A client that has not sent its startup packet by then is just closed (a PostgreSQL client sends it at once). */
const WAIT_FOR_STARTUP_MS = 1000;
/** SQLSTATE 08001: sqlclient_unable_to_establish_sqlconnection. */
const UNABLE_TO_CONNECT = '08001';

/** An ErrorResponse with severity FATAL (backend message 'E'). */
export function fatalError(message: string, hint: string): Buffer {
  const fields = Buffer.concat([
    field('S', 'FATAL'), field('V', 'FATAL'), field('C', UNABLE_TO_CONNECT), field('M', message), field('H', hint), Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head[0] = 0x45; // 'E'
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

function field(code: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(code, 'latin1'), Buffer.from(value.replace(/\0/g, ''), 'utf8'), Buffer.from([0])]);
}

/** Answers a PostgreSQL client whose tunnel could not open with a FATAL naming `why`, then closes it. */
export function refusePostgres(client: Socket, sent: Buffer, why: string): void {
  let buf = sent;
  const timer = setTimeout(() => stop(), WAIT_FOR_STARTUP_MS);
  timer.unref();
  const stop = (last?: Buffer): void => {
    clearTimeout(timer);
    client.off('data', onData);
    if (client.destroyed) return;
    if (last) client.end(last);
    else client.end();
  };
  const step = (): void => {
    while (buf.length >= 8) {
      const len = buf.readInt32BE(0);
      if (len < 8 || len > MAX_STARTUP) return stop();
      if (buf.length < len) return;
      const code = buf.readInt32BE(4);
      buf = buf.subarray(len);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        client.write('N');
        continue;
      }
      if (code === CANCEL_REQUEST) return stop();
      return stop(fatalError(`hoop: ${why}`, 'the tunnel could not open; `hoop agent status` shows its last error, and `hoop connect` opens it again'));
    }
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    step();
  };
  client.on('data', onData);
  client.resume();
  step();
}
