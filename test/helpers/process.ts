/** Whether processes are still running, for tests that start and stop daemons and servers. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A process that still runs; an exited one waiting to be reaped (a zombie, state Z) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Waits up to `ms` for the process to be gone; true when it is. */
export async function gone(pid: number, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; alive(pid) && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/** The PID of the PostgreSQL server running on a data dir, from its `postmaster.pid`. */
export async function postmasterPid(dataDir: string): Promise<number> {
  return Number.parseInt((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!, 10);
}
