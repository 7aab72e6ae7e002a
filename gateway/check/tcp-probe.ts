/** Whether a TCP connection to host:port opens, without a word of any protocol on it (`hoop gateway check`). */
import { connect } from 'node:net';

const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

/** Why a TCP connection to host:port cannot be opened within `timeoutMs`, or null when it opens (it is closed at once). */
export function tcpProblem(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    socket.once('connect', () => done(null));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const reason = e.code ? REASONS[e.code] : undefined;
      done(reason ?? (e instanceof AggregateError && e.message === '' ? aggregateReason(e) : e.message));
    });
  });
}

/** Node tries each address of a host name; when all fail, its AggregateError has an empty message. */
function aggregateReason(e: AggregateError): string {
  return [...new Set(e.errors.map((x: NodeJS.ErrnoException) => (x.code ? REASONS[x.code] : undefined) ?? x.message))].join('; ');
}
