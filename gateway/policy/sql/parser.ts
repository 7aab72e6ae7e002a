/**
 * The SQL parser service: PostgreSQL's parser (libpg-query) plus the analyser, on the main thread for ordinary
 * statements and in one long-lived worker thread for large ones. Parsing 200 KB or more takes 100-300 ms, and
 * turning that tree into JSON and walking it another 50-100 ms: off the event loop, every other session keeps
 * moving while one client sends a huge INSERT.
 */
import { Worker } from 'node:worker_threads';
import { HoopError } from '../../../shared/errors.js';
import { loadSqlModule, parseSqlOnThisStack } from './analyze.js';
import type { ParsedSql } from './facts.js';
import { TS_HOOKS_SOURCE, WORKER_SOURCE } from './worker-source.js';

export interface SqlParserOptions {
  /** Statements of this many UTF-8 bytes or more are parsed in the worker. Default 64 KiB; 0 sends all there. */
  workerThresholdBytes?: number;
}

export interface SqlParser {
  /**
   * Parses a (possibly multi-statement) string into facts. SQL that does not parse, or is nested too deeply to
   * check, resolves to `{ ok: false }`; the promise rejects (HoopError `internal`) only when the parser itself
   * fails or was closed.
   */
  parse(sql: string): Promise<ParsedSql>;
  /** Stops the worker, rejecting requests still in flight. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_WORKER_THRESHOLD_BYTES = 64 * 1024;

/** Deeply nested statements (a 20,000-arm UNION ALL) need a deep stack to walk; the worker gets one. */
const WORKER_STACK_MB = 64;

/** Loads the WASM parser once, then returns the service. The worker starts on the first large statement. */
export async function createSqlParser(opts: SqlParserOptions = {}): Promise<SqlParser> {
  await loadSqlModule();
  return new ParserService(opts.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES);
}

interface Pending {
  resolve: (result: ParsedSql) => void;
  reject: (err: HoopError) => void;
}

type WorkerReply = { id: number; result: ParsedSql } | { id: number; error: string };

class ParserService implements SqlParser {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly threshold: number) {}

  parse(sql: string): Promise<ParsedSql> {
    if (this.closed) return Promise.reject(new HoopError('internal', 'the SQL parser is closed'));
    if (Buffer.byteLength(sql, 'utf8') >= this.threshold) return this.inWorker(sql);
    try {
      return Promise.resolve(parseSqlOnThisStack(sql));
    } catch (err) {
      // Nested deeper than the main thread's stack (about 1 MB) can walk: the worker's is 64 MB.
      if (err instanceof RangeError) return this.inWorker(sql);
      return Promise.reject(new HoopError('internal', 'the SQL analyser failed', { cause: err }));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new HoopError('internal', 'the SQL parser was closed'));
    if (worker) await worker.terminate();
  }

  private inWorker(sql: string): Promise<ParsedSql> {
    const worker = this.worker ?? this.startWorker();
    const id = this.nextId++;
    return new Promise<ParsedSql>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref(); // keep the process up while a statement is in flight
      worker.postMessage({ id, sql });
    });
  }

  private startWorker(): Worker {
    // From TypeScript sources (tests) the analyser is a .ts file and the worker needs type-stripping hooks.
    const fromSources = import.meta.url.endsWith('.ts');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      resourceLimits: { stackSizeMb: WORKER_STACK_MB },
      workerData: {
        moduleUrl: new URL(fromSources ? './analyze.ts' : './analyze.js', import.meta.url).href,
        tsHooksUrl: fromSources ? `data:text/javascript,${encodeURIComponent(TS_HOOKS_SOURCE)}` : undefined,
        base: import.meta.url,
      },
    });
    worker.unref();
    worker.on('message', (reply: WorkerReply) => this.onReply(worker, reply));
    worker.on('error', (err) => this.onGone(worker, new HoopError('internal', 'the SQL parser worker failed', { cause: err })));
    worker.on('exit', (code) => this.onGone(worker, new HoopError('internal', `the SQL parser worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private onReply(worker: Worker, reply: WorkerReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) worker.unref();
    if ('error' in reply) p.reject(new HoopError('internal', 'the SQL analyser failed in the worker', { cause: new Error(reply.error) }));
    else p.resolve(reply.result);
  }

  /** A crashed worker takes its requests with it; the next large statement starts a new one. */
  private onGone(worker: Worker, err: HoopError): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failAll(err);
    void worker.terminate();
  }

  private failAll(err: HoopError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}
