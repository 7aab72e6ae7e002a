/**
 * A deliberately tiny HTTP router: exact paths with `:param` segments, JSON bodies with a size cap, and one
 * place where errors become problem+json (RFC 9457).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HoopError, toHoopError, toProblem } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

export interface RequestContext {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  body: () => Promise<unknown>;
}

export type Handler = (ctx: RequestContext) => Promise<{ status?: number; body: unknown }>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

const MAX_BODY = 1024 * 1024;

export class Router {
  readonly #routes: Route[] = [];
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on(method: string, path: string, handler: Handler): this {
    this.#routes.push({ method, parts: path.split('/').filter(Boolean), handler });
    return this;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#dispatch(req, res);
  };

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const segs = url.pathname.split('/').filter(Boolean);
    let pathMatched = false;
    try {
      for (const r of this.#routes) {
        const params = match(r.parts, segs);
        if (!params) continue;
        pathMatched = true;
        if (r.method !== req.method) continue;
        const out = await r.handler({ req, params, query: url.searchParams, body: () => readJson(req) });
        send(res, out.status ?? 200, out.body);
        return;
      }
      throw pathMatched
        ? new HoopError('usage', `${req.method} is not allowed on ${url.pathname}`)
        : new HoopError('not_found', `no such endpoint: ${url.pathname}`);
    } catch (e) {
      const err = toHoopError(e);
      if (err.code === 'internal') this.#logger.error('request failed', { method: req.method, path: url.pathname, error: e });
      else this.#logger.debug('request refused', { method: req.method, path: url.pathname, code: err.code });
      const problem = toProblem(err);
      if (err.code === 'internal') problem.detail = 'internal error; see the gateway log';
      send(res, problem.status, problem, 'application/problem+json');
    }
  }
}

function match(parts: string[], segs: string[]): Record<string, string> | undefined {
  if (parts.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const s = segs[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = decodeSegment(s);
    else if (p !== s) return undefined;
  }
  return params;
}

/** A caller's malformed percent-encoding (`%E0%A4%A`) is their mistake, answered 400, not an internal error. */
function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    throw new HoopError('usage', 'the request path has malformed percent-encoding', { cause: e });
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HoopError('usage', 'request body too large');
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const text = Buffer.concat(chunks).toString('utf8');
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HoopError('usage', 'request body is not valid JSON', { cause: e });
  }
}

/** Extracts a bearer token, or throws login_required. */
export function bearer(req: IncomingMessage): string {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  if (!m) throw new HoopError('login_required', 'this endpoint needs an access token', { hint: 'run `hoop login`' });
  return m[1]!;
}
