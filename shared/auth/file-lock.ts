/**
 * A cross-process lock on a file (O_EXCL create), for the token refresh: the identity provider rotates refresh
 * tokens and treats reuse of a spent one as theft, revoking the whole login. The CLI and the agent must never
 * refresh the same login at once.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { HoopError } from '../errors.js';

export interface FileLockOptions {
  timeoutMs?: number;
  /** A lock older than this whose owner is gone is broken. */
  staleMs?: number;
  now?: () => number;
}

export async function withFileLock<T>(path: string, fn: () => Promise<T>, o: FileLockOptions = {}): Promise<T> {
  const now = o.now ?? Date.now;
  const deadline = now() + (o.timeoutMs ?? 15_000);
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid} ${now()}\n`);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new HoopError('internal', `cannot create lock ${path}`, { cause: e });
      if (await isStale(path, now(), o.staleMs ?? 30_000)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (now() > deadline) throw new HoopError('internal', `timed out waiting for ${path}`, { hint: 'another hoop process is refreshing your login; try again' });
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
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
  if (Number.isFinite(at) && now - at > staleMs) return true;
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
