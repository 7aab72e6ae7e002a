/**
 * The gateway's master key encrypts secrets at rest. Teams running several instances set it explicitly
 * (`master_key: ${env:HOOP_MASTER_KEY}`, 32 bytes base64); a single instance generates one in its data dir
 * (mode 0600) on first start.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { resolveSecretRefs } from '../config/secrets.js';
import { HoopError } from '../../shared/errors.js';

export interface ReadMasterKeyOptions {
  /** HOOP_MASTER_KEY: the key, or a `${file:…}`/`${env:…}` reference to it. */
  configured?: string | undefined;
  /** For `${env:…}` in `configured`. */
  env?: Readonly<Record<string, string | undefined>>;
  dataDir: string;
}

export interface LoadMasterKeyOptions extends ReadMasterKeyOptions {
  /**
   * Whether the database holds keys sealed already (by another instance, or before the data dir was lost): a new
   * master key could not open them, so none is made, and the error says which key to give.
   */
  sealedKeysExist?: () => Promise<boolean>;
}

/** Where a single instance keeps the master key it generated. */
export function masterKeyFile(dataDir: string): string {
  return join(dataDir, 'master.key');
}

/** Where the key comes from, for messages: `HOOP_MASTER_KEY` or the file. */
export function masterKeySource(opts: ReadMasterKeyOptions): string {
  return opts.configured ? 'HOOP_MASTER_KEY' : masterKeyFile(opts.dataDir);
}

/**
 * The master key the gateway has now, HOOP_MASTER_KEY's or its data dir's, or undefined when it has none yet.
 * Creates nothing (`hoop gateway check` reads it too).
 * @throws HoopError `config_invalid` when the key is not 32 bytes in base64, or its reference cannot be resolved.
 */
export async function readMasterKey(opts: ReadMasterKeyOptions): Promise<Buffer | undefined> {
  if (opts.configured) return decode(resolveReference(opts.configured, opts.env ?? {}), 'HOOP_MASTER_KEY');
  const path = masterKeyFile(opts.dataDir);
  try {
    return decode((await readFile(path, 'utf8')).trim(), path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return undefined;
  }
}

/** A gateway with no master key on a database that holds keys sealed with one. */
export function missingMasterKeyError(dataDir: string): HoopError {
  return new HoopError('config_invalid', `this gateway has no master key (HOOP_MASTER_KEY is not set, and there is no ${masterKeyFile(dataDir)}), and its database holds keys sealed with one`, {
    hint: 'instances on one database share one master key: set HOOP_MASTER_KEY to the key the first instance uses (its data_dir/master.key), or copy that file here with mode 0600',
  });
}

export async function loadMasterKey(opts: LoadMasterKeyOptions): Promise<Buffer> {
  const existing = await readMasterKey(opts);
  if (existing) return existing;
  if (await opts.sealedKeysExist?.()) throw missingMasterKeyError(opts.dataDir);
  const path = masterKeyFile(opts.dataDir);
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFile(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e; // another process won the race: use its key
  });
  return decode((await readFile(path, 'utf8')).trim(), path);
}

function decode(b64: string, where: string): Buffer {
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) {
    throw new HoopError('config_invalid', `${where}: the master key must be 32 bytes, base64-encoded`, {
      hint: 'generate one with `openssl rand -base64 32`',
    });
  }
  return key;
}

/** HOOP_MASTER_KEY may be a reference, as any HOOP_* value may (`${file:/run/secrets/master-key}`). */
function resolveReference(value: string, env: Readonly<Record<string, string | undefined>>): string {
  if (!value.includes('${')) return value;
  const r = resolveSecretRefs({ HOOP_MASTER_KEY: value }, { env, readFile: (p) => readFileSync(p, 'utf8'), homeDir: homedir(), baseDir: process.cwd() });
  const p = r.problems[0];
  if (p) throw new HoopError('config_invalid', `HOOP_MASTER_KEY: ${p.message}`);
  return ((r.value as { HOOP_MASTER_KEY: string }).HOOP_MASTER_KEY).trim();
}
