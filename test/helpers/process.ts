/** Whether processes are still running, for tests that start and stop daemons and servers. */
import { readFileSync } from 'node:fs';

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
