import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HoopError } from '../errors.js';
import type { TokenSet } from './tokens.js';

/** One login, keyed by the gateway URL it was made for. */
export interface StoredLogin {
  gateway_url: string;
  issuer: string;
  client_id: string;
  tokens: TokenSet;
  subject?: string;
  /**
   * 'client_credentials' for a machine login (`hoop login --client-credentials`): it holds only an access token,
   * which only the client itself, with its secret, can revoke. Absent for a person's login.
   */
  flow?: 'client_credentials';
}

export interface TokenStore {
  load(key: string): Promise<StoredLogin | null>;
  save(key: string, login: StoredLogin): Promise<void>;
  clear(key: string): Promise<void>;
  /** Where logins go now; turns from 'keychain' to 'file' if the keychain starts failing. */
  readonly kind: 'keychain' | 'file';
}

/** The part of `@napi-rs/keyring` used here, so tests can pass a fake. */
export interface KeyringEntry {
  getPassword(): Promise<string | null>;
  setPassword(password: string): Promise<void>;
  deletePassword(): Promise<boolean>;
}

export interface Keyring {
  AsyncEntry: new (service: string, account: string, options?: { linux?: { store?: 'secret-service' | 'keyutils' } }) => KeyringEntry;
}

export interface TokenStoreOptions {
  /** The config dir; the fallback file is `<dir>/credentials.json`. */
  dir: string;
  /** Receives the one-line warning when the keychain is unavailable. */
  warn: (message: string) => void;
  /** Default: `@napi-rs/keyring`, loaded on demand. */
  keyring?: Keyring;
  /** Default: `process.platform`. File modes are not applied on win32. */
  platform?: NodeJS.Platform;
}

const SERVICE = 'hoop';
const PROBE_ACCOUNT = 'hoop-keychain-probe';
// The Linux default silently falls back to the kernel keyring, which forgets everything at reboot.
const ENTRY_OPTIONS = { linux: { store: 'secret-service' as const } };
export const CREDENTIALS_FILE = 'credentials.json';

/**
 * Opens the token store: the OS keychain (Secret Service on Linux) when it answers, else a 0600 file under
 * `dir`, announced with one warning line when a login is first stored there.
 */
export async function createTokenStore(options: TokenStoreOptions): Promise<TokenStore> {
  const file = fileStore(join(options.dir, CREDENTIALS_FILE), options.dir, (options.platform ?? process.platform) !== 'win32');
  let keychain: TokenStore | undefined;
  let why: unknown;
  let warned = false;
  const fallBack = (e: unknown): TokenStore => {
    keychain = undefined;
    why = e;
    return file;
  };
  /**
   * The warning, once, when a login is first written to the file: at `hoop login`, not on every command that
   * reads (or refreshes) a login the file already holds.
   */
  const saveToFile = async (key: string, login: StoredLogin): Promise<void> => {
    if (!warned && (await file.load(key).catch(() => null)) === null) {
      warned = true;
      options.warn(`warning: OS keychain unavailable (${shortReason(why)}); storing tokens in ${file.path} (mode 0600)`);
    }
    await file.save(key, login);
  };

  try {
    const keyring = options.keyring ?? (await import('@napi-rs/keyring'));
    await new keyring.AsyncEntry(SERVICE, PROBE_ACCOUNT, ENTRY_OPTIONS).getPassword();
    keychain = keychainStore(keyring);
  } catch (e) {
    fallBack(e);
  }

  /** Runs on the keychain while it works; on its first failure, switches to the file for good. */
  const run = async <T>(op: (store: TokenStore) => Promise<T>): Promise<T> => {
    if (keychain) {
      try {
        return await op(keychain);
      } catch (e) {
        if (e instanceof HoopError) throw e;
        return op(fallBack(e));
      }
    }
    return op(file);
  };

  return {
    get kind() {
      return keychain ? 'keychain' : 'file';
    },
    load: (key) => run((s) => s.load(key)),
    save: (key, login) => run((s) => (s === file ? saveToFile(key, login) : s.save(key, login))),
    clear: (key) => run((s) => s.clear(key)),
  };
}

function keychainStore(keyring: Keyring): TokenStore {
  const entry = (key: string) => new keyring.AsyncEntry(SERVICE, key, ENTRY_OPTIONS);
  return {
    kind: 'keychain',
    async load(key) {
      const value = await entry(key).getPassword();
      return value === null ? null : parseLogin(value, `the OS keychain entry "${SERVICE}/${key}"`);
    },
    async save(key, login) {
      await entry(key).setPassword(JSON.stringify(login));
    },
    async clear(key) {
      await entry(key).deletePassword();
    },
  };
}

interface CredentialsFile {
  version: 1;
  logins: Record<string, StoredLogin>;
}

function fileStore(path: string, dir: string, applyModes: boolean): TokenStore & { path: string } {
  // One read-modify-write at a time within this process.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const next = queue.then(op, op);
    queue = next.catch(() => undefined);
    return next;
  };

  const read = async (): Promise<CredentialsFile> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, logins: {} };
      throw new HoopError('internal', `could not read ${path}`, { cause: e });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw corrupt(path, e);
    }
    const logins = (parsed as { logins?: unknown } | null)?.logins;
    if (logins === null || typeof logins !== 'object' || Array.isArray(logins)) throw corrupt(path);
    const out: CredentialsFile = { version: 1, logins: {} };
    for (const [key, value] of Object.entries(logins)) out.logins[key] = parseLogin(JSON.stringify(value), path);
    return out;
  };

  const write = async (data: CredentialsFile): Promise<void> => {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined && applyModes) await chmod(dir, 0o700);
    const tmp = join(dir, `.${CREDENTIALS_FILE}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        if (applyModes) await handle.chmod(0o600); // whatever the umask
        await handle.writeFile(JSON.stringify(data, null, 2) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new HoopError('internal', `could not write ${path}`, { cause: e });
    }
  };

  return {
    kind: 'file',
    path,
    load: (key) => serial(async () => (await read()).logins[key] ?? null),
    save: (key, login) => serial(async () => {
      const data = await read();
      data.logins[key] = login;
      await write(data);
    }),
    clear: (key) => serial(async () => {
      let data: CredentialsFile;
      try {
        data = await read();
      } catch (e) {
        if (!(e instanceof HoopError && e.code === 'config_invalid')) throw e;
        // Unreadable: nothing in it can be used, so `hoop logout` sets it aside (kept, 0600, for a look).
        await rename(path, `${path}.unreadable`);
        return;
      }
      if (!(key in data.logins)) return;
      delete data.logins[key];
      await write(data);
    }),
  };
}

function parseLogin(text: string, where: string): StoredLogin {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw corrupt(where, e);
  }
  const o = v as Partial<StoredLogin> | null;
  const t = o?.tokens;
  const ok = typeof o?.gateway_url === 'string' && typeof o.issuer === 'string' && typeof o.client_id === 'string'
    && (o.subject === undefined || typeof o.subject === 'string')
    && (o.flow === undefined || o.flow === 'client_credentials')
    && typeof t?.access_token === 'string' && typeof t.expires_at === 'number'
    && (t.issued_at === undefined || typeof t.issued_at === 'number')
    && (t.refresh_token === undefined || typeof t.refresh_token === 'string');
  if (!ok) throw corrupt(where);
  return v as StoredLogin;
}

function corrupt(where: string, cause?: unknown): HoopError {
  return new HoopError('config_invalid', `the stored login in ${where} is not readable`, {
    hint: 'run hoop logout, then hoop login',
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The first line of an error, short enough for a one-line warning. */
function shortReason(e: unknown): string {
  const text = (e instanceof Error ? e.message : String(e)).split('\n')[0]?.trim() || 'unknown error';
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}
