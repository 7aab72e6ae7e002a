/**
 * A client for the agent's control API (shared/api/agent-control.ts): HTTP/1.1 over the agent's unix socket.
 * Used by `hoop connect`, `hoop disconnect`, `hoop connections` and `hoop agent start|stop|status`.
 */
import { request } from 'node:http';
import { z } from 'zod';
import {
  AgentStatusSchema, TunnelInfoSchema,
  type AgentStatus, type OpenTunnelRequest, type TunnelInfo,
} from '../api/agent-control.js';
import { HoopError, fromProblem, type Problem } from '../errors.js';
import { agentSocketPath } from '../paths.js';

const ClosedSchema = z.object({ closed: z.array(z.string()) });
const OkSchema = z.object({ ok: z.literal(true) });
const MAX_RESPONSE_BYTES = 1024 * 1024;
const START_HINT = 'run `hoop agent start`';

export interface AgentControlClientOptions {
  socketPath: string;
  /** Per request; the default is 10 s. */
  timeoutMs?: number;
}

export class AgentControlClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(opts: AgentControlClientOptions) {
    this.socketPath = opts.socketPath;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The client for the agent of a config dir (shared/paths.ts `configDir`). */
  static forConfigDir(dir: string, timeoutMs?: number): AgentControlClient {
    return new AgentControlClient({ socketPath: agentSocketPath(dir), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }

  status(): Promise<AgentStatus> {
    return this.#call('GET', '/v1/status', AgentStatusSchema);
  }

  /** Opens (or replaces) the tunnel of `req.connection`; answers with the port actually bound. */
  openTunnel(req: OpenTunnelRequest): Promise<TunnelInfo> {
    return this.#call('POST', '/v1/tunnels', TunnelInfoSchema, req);
  }

  async closeTunnel(connection: string): Promise<string[]> {
    return (await this.#call('DELETE', `/v1/tunnels/${encodeURIComponent(connection)}`, ClosedSchema)).closed;
  }

  async closeAll(): Promise<string[]> {
    return (await this.#call('DELETE', '/v1/tunnels', ClosedSchema)).closed;
  }

  /** Asks the agent to close everything and exit. Resolves once it has acknowledged. */
  async shutdown(): Promise<void> {
    await this.#call('POST', '/v1/shutdown', OkSchema, {});
  }

  #call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json', connection: 'close' };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const req = request({ socketPath: this.socketPath, path, method, headers, agent: false, timeout: this.#timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new HoopError('internal', `the agent's answer to ${method} ${path} is too large`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => reject(unavailable(e, this.socketPath)));
        res.on('end', () => {
          try {
            resolve(parse(Buffer.concat(chunks).toString('utf8'), res.statusCode ?? 0, method, path, schema));
          } catch (e) {
            reject(e as Error);
          }
        });
      });
      req.on('timeout', () => {
        req.destroy(new HoopError('agent_unavailable', `the agent did not answer ${method} ${path} within ${this.#timeoutMs / 1000} s`, {
          hint: 'run `hoop agent stop` and then `hoop agent start`',
        }));
      });
      req.on('error', (e) => reject(e instanceof HoopError ? e : unavailable(e, this.socketPath)));
      req.end(payload);
    });
  }
}

/** Whether `e` says that no agent listens on the socket (as opposed to one that failed to answer). */
export function isAgentNotRunning(e: unknown): boolean {
  return e instanceof HoopError && e.code === 'agent_unavailable' && e.details?.not_running === true;
}

function parse<S extends z.ZodType>(text: string, status: number, method: string, path: string, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = text.length ? JSON.parse(text) : {};
  } catch (e) {
    throw new HoopError('internal', `the agent answered ${method} ${path} with HTTP ${status} and a body that is not JSON`, { cause: e });
  }
  if (status < 200 || status >= 300) throw fromProblem(json as Partial<Problem>, status);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new HoopError('internal', `unexpected answer from the agent to ${method} ${path}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
      cause: parsed.error,
      hint: 'the agent may be another version: run `hoop agent stop` and then `hoop agent start`',
    });
  }
  return parsed.data;
}

/** Maps "nothing listens there" to agent_unavailable with the fix; other socket errors keep their cause. */
function unavailable(e: Error & { code?: string }, socketPath: string): HoopError {
  switch (e.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new HoopError('agent_unavailable', 'the hoop agent is not running', {
        cause: e, hint: START_HINT, details: { socket: socketPath, not_running: true },
      });
    case 'EACCES':
    case 'EPERM':
      return new HoopError('agent_unavailable', `not allowed to use the agent's socket ${socketPath}`, {
        cause: e, hint: 'the agent runs as another user: use that user, or set HOOP_CONFIG_DIR to your own directory',
      });
    case 'ECONNRESET':
    case 'EPIPE':
      return new HoopError('agent_unavailable', 'the agent closed the connection before answering', { cause: e, hint: START_HINT });
    default:
      return new HoopError('agent_unavailable', `cannot talk to the agent: ${e.message}`, { cause: e, hint: START_HINT });
  }
}
