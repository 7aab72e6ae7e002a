/**
 * A cross-process lock on a file (O_EXCL create), for the token refresh: the identity provider rotates refresh
 * tokens and treats reuse of a spent one as theft, revoking the whole login. The CLI and the agent must never
 * refresh the same login at once.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { HoopError } from '../errors.js';

export interface FileLockOptions {
  timeoutMs?: number;
  /**
   * A lock not renewed for this long is broken, even if its owner's pid lives (pids are reused); a lock whose
   * owner is gone is broken at once. The holder renews it every third of this while it works, so a slow refresh
   * (discovery and the token request may each take up to 30 s) is never taken over. Default 30 000.
   */
  staleMs?: number;
  now?: () => number;
}

export async function withFileLock<T>(path: string, fn: () => Promise<T>, o: FileLockOptions = {}): Promise<T> {
  const now = o.now ?? Date.now;
  const staleMs = o.staleMs ?? 30_000;
  const deadline = now() + (o.timeoutMs ?? 15_000);
  // The nonce tells this holder's lock from the next one's, so that releasing never deletes another's lock.
  const content = `${process.pid} ${now()} ${randomBytes(8).toString('hex')}\n`;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      try {
        await fh.writeFile(content);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new HoopError('internal', `cannot create lock ${path}`, { cause: e });
      if (await isStale(path, now(), staleMs)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (now() > deadline) throw new HoopError('internal', `timed out waiting for ${path}`, { hint: 'another hoop process is refreshing your login; try again' });
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  // Renews the lock's mtime while `fn` runs: the lock's age is its last renewal.
  const heartbeat = setInterval(() => {
    const t = new Date(now());
    utimes(path, t, t).catch(() => undefined);
  }, Math.max(10, Math.floor(staleMs / 3)));
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await release(path, content);
  }
}

/** Deletes the lock if it is still ours: after a holder was judged stale, the lock may be another's now. */
async function release(path: string, content: string): Promise<void> {
  const current = await readFile(path, 'utf8').catch(() => null);
  if (current === content) await unlink(path).catch(() => undefined);
}

async function isStale(path: string, now: number, staleMs: number): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return false; // just released: retry
  }
  const [pidText, atText] = text.trim().split(' ');
  const pid = Number(pidText);
  const at = Number(atText);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isFinite(at)) {
    // Not written yet: its owner has created it and is about to write its pid (a reader sees it empty in
    // between). Only its age says whether that owner died in the gap.
    return olderThan(path, now, staleMs);
  }
  if (now - at > staleMs && (await olderThan(path, now, staleMs))) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function olderThan(path: string, now: number, ms: number): Promise<boolean> {
  try {
    return now - (await stat(path)).mtimeMs > ms;
  } catch {
    return false; // just released: retry
  }
}
