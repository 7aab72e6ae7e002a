/**
 * What the gateway measures about itself, for `GET /metrics` (see metrics-server.ts and docs/operations in
 * docs/configuration.md, "Metrics"). The audit log and the recorder report through the two small observer
 * interfaces below, so that neither depends on this module.
 *
 * The figures answer an operator's first questions about the data path: how long statements wait for their
 * audit record to commit (the one wait hoop adds before a statement runs), how full the commit batches are,
 * whether the audit store has refused records, how busy the gateway's event loop is, and what runs through it.
 */
import { performance } from 'node:perf_hooks';
import { Registry, type CounterChild, type GaugeChild } from './registry.js';

/** Told by the audit log of every batch it commits or fails (gateway/audit/audit-log.ts). */
export interface AuditLogObserver {
  /** `waitsMs`: for each record of the batch, the time from its append to its commit. */
  batchCommitted(waitsMs: readonly number[]): void;
  batchFailed(records: number): void;
}

/** Told by the recorder of sessions and statements (gateway/recording/recorder.ts). */
export interface RecordingObserver {
  sessionStarted(connection: string): void;
  sessionEnded(connection: string): void;
  statementStarted(connection: string, decision: string): void;
}

/** The decisions a statement record carries; anything else is counted as `other`, so labels stay bounded. */
const DECISIONS = new Set(['allow', 'approved', 'block', 'pending', 'rejected', 'timeout', 'denied']);

const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 500];

export class GatewayMetrics implements AuditLogObserver, RecordingObserver {
  readonly registry = new Registry();
  readonly #appendSeconds;
  readonly #batchRecords;
  readonly #appendFailures: CounterChild;
  readonly #sessionsOpen;
  readonly #sessionsTotal;
  readonly #statements;
  /** Per connection, the children the data path updates, resolved once. */
  readonly #byConnection = new Map<string, { open: GaugeChild; total: CounterChild; statements: Map<string, CounterChild> }>();

  constructor(options: { version: string; now?: () => number }) {
    const r = this.registry;
    r.gauge('hoop_build_info', 'The running hoop version (always 1).', ['version']).labels(options.version).set(1);
    this.#appendSeconds = r.histogram(
      'hoop_audit_append_seconds',
      'Time from an audit append to its commit. A statement waits this long before it is forwarded.',
      SECONDS_BUCKETS,
    ).labels();
    this.#batchRecords = r.histogram('hoop_audit_batch_records', 'Records per committed audit batch (group commit).', BATCH_BUCKETS).labels();
    this.#appendFailures = r.counter(
      'hoop_audit_append_failures_total',
      'Audit records the store could not commit. Statements among them were refused (fail closed).',
    ).labels();
    this.#sessionsOpen = r.gauge('hoop_sessions_open', 'Data-path sessions open now.', ['connection']);
    this.#sessionsTotal = r.counter('hoop_sessions_total', 'Data-path sessions opened.', ['connection']);
    this.#statements = r.counter(
      'hoop_statements_total',
      'Statements that reached the gateway, by the policy decision recorded for them (allow, approved, block, pending, rejected, timeout, denied, other).',
      ['connection', 'decision'],
    );
    this.#processMetrics(options.now ?? Date.now);
  }

  batchCommitted(waitsMs: readonly number[]): void {
    this.#batchRecords.observe(waitsMs.length);
    for (const ms of waitsMs) this.#appendSeconds.observe(ms / 1000);
  }

  batchFailed(records: number): void {
    this.#appendFailures.inc(records);
  }

  sessionStarted(connection: string): void {
    const c = this.#connection(connection);
    c.open.inc();
    c.total.inc();
  }

  sessionEnded(connection: string): void {
    this.#connection(connection).open.dec();
  }

  statementStarted(connection: string, decision: string): void {
    const c = this.#connection(connection);
    const d = DECISIONS.has(decision) ? decision : 'other';
    let child = c.statements.get(d);
    if (!child) {
      child = this.#statements.labels(connection, d);
      c.statements.set(d, child);
    }
    child.inc();
  }

  #connection(name: string): { open: GaugeChild; total: CounterChild; statements: Map<string, CounterChild> } {
    let c = this.#byConnection.get(name);
    if (!c) {
      c = { open: this.#sessionsOpen.labels(name), total: this.#sessionsTotal.labels(name), statements: new Map() };
      this.#byConnection.set(name, c);
    }
    return c;
  }

  /** The usual process figures, read when scraped. */
  #processMetrics(now: () => number): void {
    const r = this.registry;
    const started = (now() - performance.now()) / 1000;
    r.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.').labels().set(Math.round(started));
    const cpuUser = r.counter('process_cpu_user_seconds_total', 'User CPU time spent, in seconds.').labels();
    const cpuSystem = r.counter('process_cpu_system_seconds_total', 'System CPU time spent, in seconds.').labels();
    const cpu = r.counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.').labels();
    const rss = r.gauge('process_resident_memory_bytes', 'Resident memory size, in bytes.').labels();
    const heap = r.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.').labels();
    const loop = r.counter(
      'hoop_event_loop_active_seconds_total',
      "Time the gateway's event loop spent running code (not waiting for I/O). Its rate is the loop's utilisation: near 1, the gateway itself is the bottleneck.",
    ).labels();
    // The process's own totals, carried into counters by what they grew since the last scrape.
    const last = { user: 0, system: 0, active: 0 };
    const growth = (k: keyof typeof last, now: number): number => {
      const d = Math.max(0, now - last[k]);
      last[k] += d;
      return d;
    };
    r.beforeRender(() => {
      const u = process.cpuUsage();
      const user = growth('user', u.user / 1e6);
      const system = growth('system', u.system / 1e6);
      cpuUser.inc(user);
      cpuSystem.inc(system);
      cpu.inc(user + system);
      loop.inc(growth('active', performance.eventLoopUtilization().active / 1000));
      const m = process.memoryUsage();
      rss.set(m.rss);
      heap.set(m.heapUsed);
    });
  }
}
