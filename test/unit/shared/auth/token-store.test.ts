import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createTokenStore, type Keyring, type KeyringEntry, type StoredLogin } from '../../../../shared/auth/token-store.js';
import { HoopError } from '../../../../shared/errors.js';

const GATEWAY = 'https://hoop.example.com';

function login(access = 'at-1', refresh = 'rt-1'): StoredLogin {
  return {
    gateway_url: GATEWAY,
    issuer: 'https://login.example.com',
    client_id: 'hoop-cli',
    subject: 'alice',
    tokens: { access_token: access, refresh_token: refresh, expires_at: 2_000_000_000, scope: 'openid' },
  };
}

/** A keychain that works: one map of service/account to secret, recording the options each entry was opened with. */
function workingKeyring() {
  const secrets = new Map<string, string>();
  const options: unknown[] = [];
  const keyring: Keyring = {
    AsyncEntry: class implements KeyringEntry {
      private readonly id: string;
      constructor(service: string, account: string, opts?: unknown) {
        this.id = `${service}/${account}`;
        options.push(opts);
      }
      async getPassword() { return secrets.get(this.id) ?? null; }
      async setPassword(p: string) { secrets.set(this.id, p); }
      async deletePassword() { return secrets.delete(this.id); }
    },
  };
  return { keyring, secrets, options };
}

/** A keychain like a headless Linux box's: every call fails. `failAfter` lets the first calls succeed. */
function brokenKeyring(failAfter = 0): Keyring {
  let calls = 0;
  const fail = () => {
    if (calls++ >= failAfter) throw new Error('Platform secure storage failure: Cannot autolaunch D-Bus without X11 $DISPLAY\nmore detail');
  };
  return {
    AsyncEntry: class implements KeyringEntry {
      async getPassword() { fail(); return null; }
      async setPassword() { fail(); }
      async deletePassword() { fail(); return false; }
    },
  };
}

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'hoop-token-store-')), 'config');
});
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

describe('token store', () => {
  test('without a keychain it falls back to a 0600 file in a 0700 dir, and warns exactly once', async () => {
    const warnings: string[] = [];
    const store = await createTokenStore({ dir, warn: (m) => warnings.push(m), keyring: brokenKeyring() });
    expect(store.kind).toBe('file');

    await store.save(GATEWAY, login());
    await store.save('https://other.example.com', login('at-2', 'rt-2'));
    expect(await store.load(GATEWAY)).toEqual(login());
    await store.clear('https://other.example.com');
    expect(await store.load('https://other.example.com')).toBeNull();

    const file = join(dir, 'credentials.json');
    expect(warnings).toEqual([
      `warning: OS keychain unavailable (Platform secure storage failure: Cannot autolaunch D-Bus without X11 $DISPLAY); storing tokens in ${file} (mode 0600)`,
    ]);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(dir)).toEqual(['credentials.json']); // no temp files left behind
  });

  test('without a keychain, a store that only reads or refreshes a login the file holds says nothing', async () => {
    const first = await createTokenStore({ dir, warn: () => undefined, keyring: brokenKeyring() });
    await first.save(GATEWAY, login());
    const warnings: string[] = [];
    const later = await createTokenStore({ dir, warn: (m) => warnings.push(m), keyring: brokenKeyring() });
    expect(await later.load(GATEWAY)).toEqual(login());
    await later.save(GATEWAY, login('at-2', 'rt-2')); // a silent refresh
    expect(warnings).toEqual([]);
    await later.save('https://other.example.com', login()); // a new login: said where it goes
    expect(warnings).toHaveLength(1);
  });

  test('a credentials file with loose permissions is rewritten as 0600', async () => {
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'credentials.json');
    await writeFile(file, JSON.stringify({ version: 1, logins: {} }), { mode: 0o644 });
    const store = await createTokenStore({ dir, warn: () => undefined, keyring: brokenKeyring() });
    await store.save(GATEWAY, login());
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8')).logins[GATEWAY].tokens.refresh_token).toBe('rt-1');
  });

  test('a working keychain is preferred: Secret Service pinned, service "hoop", nothing on disk, no warning', async () => {
    const { keyring, secrets, options } = workingKeyring();
    const warnings: string[] = [];
    const store = await createTokenStore({ dir, warn: (m) => warnings.push(m), keyring });
    expect(store.kind).toBe('keychain');

    await store.save(GATEWAY, login());
    expect(JSON.parse(secrets.get(`hoop/${GATEWAY}`) ?? '{}')).toEqual(login());
    expect(await store.load(GATEWAY)).toEqual(login());
    expect(options.every((o) => JSON.stringify(o) === JSON.stringify({ linux: { store: 'secret-service' } }))).toBe(true);
    await store.clear(GATEWAY);
    expect(await store.load(GATEWAY)).toBeNull();

    expect(warnings).toEqual([]);
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a keychain that starts failing later switches to the file, with one warning', async () => {
    const warnings: string[] = [];
    const store = await createTokenStore({ dir, warn: (m) => warnings.push(m), keyring: brokenKeyring(1) });
    expect(store.kind).toBe('keychain');
    await store.save(GATEWAY, login());
    await store.save(GATEWAY, login('at-3', 'rt-3'));
    expect(store.kind).toBe('file');
    expect((await store.load(GATEWAY))?.tokens.access_token).toBe('at-3');
    expect(warnings).toHaveLength(1);
  });

  test('the real keyring module either answers or falls back to the file with one warning', async () => {
    const warnings: string[] = [];
    const store = await createTokenStore({ dir, warn: (m) => warnings.push(m) });
    // Headless CI has no D-Bus session: the file. A desktop: the keychain. Either way the login survives, and
    // the file is announced when the login is written to it.
    await store.save(GATEWAY, login());
    expect(await store.load(GATEWAY)).toEqual(login());
    expect(warnings).toHaveLength(store.kind === 'file' ? 1 : 0);
    await store.clear(GATEWAY);
  });

  test('an unreadable credentials file is reported, naming the file and the fix', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'credentials.json'), '{ not json', { mode: 0o600 });
    const store = await createTokenStore({ dir, warn: () => undefined, keyring: brokenKeyring() });
    const e = await store.load(GATEWAY).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(HoopError);
    expect((e as HoopError).code).toBe('config_invalid');
    expect((e as HoopError).message).toContain('credentials.json');
    expect((e as HoopError).hint).toContain('hoop login');
  });

  test('a login stored before issued_at was recorded still loads; one stored with it keeps it', async () => {
    await mkdir(dir, { recursive: true });
    const old = login();
    const withIssue = { ...login('at-2', 'rt-2'), tokens: { ...login('at-2', 'rt-2').tokens, issued_at: 1_999_999_970 } };
    await writeFile(join(dir, 'credentials.json'), JSON.stringify({ version: 1, logins: { [GATEWAY]: old, 'https://other.example.com': withIssue } }), { mode: 0o600 });
    const store = await createTokenStore({ dir, warn: () => undefined, keyring: brokenKeyring() });
    expect(await store.load(GATEWAY)).toEqual(old);
    expect((await store.load('https://other.example.com'))?.tokens.issued_at).toBe(1_999_999_970);
  });

  test('an issued_at that is not a number makes the stored login unreadable, not a wrong refresh margin', async () => {
    await mkdir(dir, { recursive: true });
    const bad = { ...login(), tokens: { ...login().tokens, issued_at: '2026-01-01' } };
    await writeFile(join(dir, 'credentials.json'), JSON.stringify({ version: 1, logins: { [GATEWAY]: bad } }), { mode: 0o600 });
    const store = await createTokenStore({ dir, warn: () => undefined, keyring: brokenKeyring() });
    await expect(store.load(GATEWAY)).rejects.toMatchObject({ code: 'config_invalid' });
  });
});
