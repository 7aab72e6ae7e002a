import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { withFileLock } from '../../../../shared/auth/file-lock.js';
import { refreshLockPath, saveLogin } from '../../../../shared/auth/session.js';
import type { StoredLogin, TokenStore } from '../../../../shared/auth/token-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoop-save-login-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const login = (access: string): StoredLogin => ({
  gateway_url: 'http://127.0.0.1:8009', issuer: 'http://127.0.0.1:8010', client_id: 'hoop-cli', subject: 'alice',
  tokens: { access_token: access, expires_at: 2_000_000_000 },
});

describe('saveLogin', () => {
  test('a new login waits for a refresh in flight in another process, so the refresh cannot overwrite it', async () => {
    const saved: string[] = [];
    const store = { load: async () => undefined, save: async (_k: string, l: StoredLogin) => void saved.push(l.tokens.access_token), delete: async () => undefined } as unknown as TokenStore;
    let release!: () => void;
    // A refresh of the old login, holding the lock as getAccessToken does, saves last of all if unlocked.
    const refresh = withFileLock(refreshLockPath(dir), async () => {
      await new Promise<void>((r) => (release = r));
      await store.save('k', login('refreshed-old'));
    });
    await new Promise((r) => setTimeout(r, 20));
    const newLogin = saveLogin(store, 'k', login('new'), dir);
    await new Promise((r) => setTimeout(r, 200));
    expect(saved).toEqual([]); // the new login has not jumped the refresh in flight
    release();
    await Promise.all([refresh, newLogin]);
    expect(saved).toEqual(['refreshed-old', 'new']); // the new login is the one left stored
  });
});

describe('saveLogin on a first login', () => {
  test('makes the config dir (0700) that the lock and the login live in', async () => {
    const fresh = join(dir, 'new', 'hoop');
    const saved: string[] = [];
    const store = { save: async (_k: string, l: StoredLogin) => void saved.push(l.tokens.access_token) } as unknown as TokenStore;
    await saveLogin(store, 'k', login('first'), fresh);
    expect(saved).toEqual(['first']);
    expect((await stat(fresh)).mode & 0o777).toBe(0o700);
  });
});
