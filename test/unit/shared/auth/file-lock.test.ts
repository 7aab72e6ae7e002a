import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { withFileLock } from '../../../../shared/auth/file-lock.js';
import { HoopError } from '../../../../shared/errors.js';

let dir: string;
let lock: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoop-file-lock-'));
  lock = join(dir, 'refresh.lock');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('withFileLock', () => {
  test('runs one holder at a time', async () => {
    let inside = 0;
    let most = 0;
    const hold = () => withFileLock(lock, async () => {
      most = Math.max(most, ++inside);
      await new Promise((r) => setTimeout(r, 30));
      inside--;
    });
    await Promise.all([hold(), hold(), hold()]);
    expect(most).toBe(1);
    await expect(readFile(lock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('an empty lock (its owner has created it and not yet written its pid) is waited for, not broken as stale', async () => {
    await writeFile(lock, '');
    let ran = false;
    const e = await withFileLock(lock, async () => {
      ran = true;
    }, { timeoutMs: 200 }).catch((err: unknown) => err);
    expect(ran).toBe(false);
    expect(e).toBeInstanceOf(HoopError);
    expect((e as HoopError).message).toBe(`timed out waiting for ${lock}`);
  });

  test('an empty lock older than staleMs (its owner died before writing) is broken', async () => {
    await writeFile(lock, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    expect(await withFileLock(lock, async () => 'ran', { timeoutMs: 200 })).toBe('ran');
  });

  test('a live holder working longer than staleMs keeps its lock: it renews it, so a slow refresh is never overlapped', async () => {
    const events: string[] = [];
    const first = withFileLock(lock, async () => {
      events.push('first in');
      await new Promise((r) => setTimeout(r, 1000));
      events.push('first out');
    }, { staleMs: 300 });
    await new Promise((r) => setTimeout(r, 30));
    const second = withFileLock(lock, async () => {
      events.push('second in');
    }, { staleMs: 300, timeoutMs: 5000 });
    await Promise.all([first, second]);
    expect(events).toEqual(['first in', 'first out', 'second in']);
  });

  test('a lock its live owner stopped renewing (older than staleMs) is broken', async () => {
    await writeFile(lock, `${process.pid} ${Date.now() - 60_000} hung\n`);
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    expect(await withFileLock(lock, async () => 'ran', { timeoutMs: 200 })).toBe('ran');
  });

  test('a lock left by a process that is gone is broken', async () => {
    await writeFile(lock, `2147483646 ${Date.now()}\n`);
    expect(await withFileLock(lock, async () => 'ran', { timeoutMs: 200 })).toBe('ran');
  });

  test('a holder whose lock was taken over (judged stale) does not delete the new holder\'s lock', async () => {
    const theirs = `${process.pid} ${Date.now()} someone-else\n`;
    await withFileLock(lock, async () => {
      await writeFile(lock, theirs); // what another process's lock looks like after it broke ours
    });
    expect(await readFile(lock, 'utf8')).toBe(theirs);
  });
});
