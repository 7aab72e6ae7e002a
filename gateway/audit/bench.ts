/**
 * Append throughput of the audit log, for `npm run bench`: `sessions` concurrent callers, each appending and
 * awaiting its commit in a loop (as an engine does per statement), for `durationMs`.
 * It appends to `db`'s audit_log: give it a scratch database with the migrations applied.
 */
import { silentLogger } from '../../shared/log.js';
import type { Database } from '../store/db.js';
import { AuditLog } from './audit-log.js';

export interface ThroughputOptions {
  sessions: number;
  durationMs: number;
  /** Default true. */
  synchronousCommit?: boolean;
}

/** Records per second committed. */
export async function measureAppendThroughput(db: Database, options: ThroughputOptions): Promise<number> {
  const log = new AuditLog({ db, logger: silentLogger, synchronousCommit: options.synchronousCommit ?? true });
  const started = performance.now();
  const deadline = started + options.durationMs;
  let count = 0;
  const session = async (i: number): Promise<void> => {
    const sessionId = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    while (performance.now() < deadline) {
      await log.append({
        type: 'statement',
        actor: 'bench',
        session_id: sessionId,
        connection: 'bench',
        data: { text: 'SELECT * FROM customers WHERE id = $1', parameters: [String(count)], decision: 'allow' },
      });
      count++;
    }
  };
  await Promise.all(Array.from({ length: options.sessions }, (_, i) => session(i)));
  const elapsed = performance.now() - started;
  await log.close();
  return (count * 1000) / elapsed;
}
