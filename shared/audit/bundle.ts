/**
 * The evidence bundle: a directory an auditor can verify offline.
 *
 * - `records.jsonl`: one canonical AuditRecord per line, in seq order;
 * - `checkpoints.json`, `public-keys.json` (JWKS);
 * - `README.md` (how to verify, by hoop and by hand), `sessions.csv`, `statements.csv` (RFC 4180 views);
 * - `manifest.json`: format, range, anchor, and `{ sha256, bytes }` of every other file; optionally an Ed25519
 *   `signature` over its canonical JSON without `signature`.
 *
 * "One changed byte anywhere fails": other files by their digest in the manifest; the manifest by being
 * re-serialised byte for byte (so whitespace edits fail) and by its signature (so edits of its values fail).
 * Every bundle is signed: one without a signature that verifies is not valid, whatever else holds, since anyone
 * can rewrite records, recompute the chain and the digests, and drop the checkpoints.
 *
 * A signature only says which key signed. The keys may be the auditor's own (`publicKeys`, e.g. from
 * `hoop audit keys`), or, by default, the bundle's `public-keys.json`, which a forger can replace along with
 * everything else: `keys` and `signed_by` say which case applies, so the caller can say what was proven.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { JWK } from 'jose';
import { HoopError } from '../errors.js';
import { bundleReadme } from './bundle-readme.js';
import { canonicalize } from './canonical.js';
import { toCsv } from './csv.js';
import { jwkThumbprint, keysByKid, type AuditRecord, type Checkpoint } from './record.js';
import { ChainVerifier, type VerifyResult } from './verify.js';

export const BUNDLE_FORMAT = 'hoop-evidence-bundle';

export const BUNDLE_FILES = {
  records: 'records.jsonl',
  checkpoints: 'checkpoints.json',
  publicKeys: 'public-keys.json',
  readme: 'README.md',
  sessions: 'sessions.csv',
  statements: 'statements.csv',
  manifest: 'manifest.json',
} as const;

const REQUIRED = [BUNDLE_FILES.records, BUNDLE_FILES.checkpoints, BUNDLE_FILES.publicKeys];

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: 1;
  created_at: string;
  gateway: string;
  range: { since: string | null; until: string | null; first_seq: number | null; last_seq: number | null };
  /** The prev_hash of the first exported record, for ranges not starting at seq 1. */
  anchor: { seq: number; hash: string } | null;
  files: Record<string, { sha256: string; bytes: number }>;
  signature?: { kid: string; alg: 'EdDSA'; sig: string };
}

export interface BundleInput {
  /** In seq order. May be async, so large ranges stream from the database. */
  records: Iterable<AuditRecord> | AsyncIterable<AuditRecord>;
  /** Every checkpoint inside the range, and the one at the anchor's seq if there is one. */
  checkpoints: readonly Checkpoint[];
  publicKeys: readonly JWK[];
  /** The gateway's public URL. */
  gateway: string;
  range: { since: string | null; until: string | null };
  sessions?: readonly object[];
  statements?: readonly object[];
  createdAt?: Date;
  /** Signs the manifest: required, since an unsigned bundle never verifies. */
  signer: { kid: string; privateKey: KeyObject };
}

export type BundleVerifyResult = VerifyResult & {
  /** Every file matches the manifest, and the manifest is intact and consistent with the records. */
  manifest_ok: boolean;
  /** The manifest carries a signature that verifies. */
  manifest_signed: boolean;
  /** Where the keys checked against came from: the caller's (`pinned`) or the bundle's own `public-keys.json`. */
  keys: 'pinned' | 'bundle';
  /** The key whose signature on the manifest verifies: its kid and RFC 7638 SHA-256 thumbprint; null if none. */
  signed_by: { kid: string; thumbprint: string } | null;
  /** What is wrong with the files or the manifest (the chain's own verdict is in `ok`/`kind`). */
  problems: string[];
  /** `ok && manifest_ok && manifest_signed`: the one flag to act on (and `keys`, for who it proves made it). */
  valid: boolean;
};

/** Only the public members of a JWK (a private `d` never leaves the gateway). */
function publicOnly(jwk: JWK): JWK {
  const out: JWK = {};
  for (const k of ['kty', 'crv', 'x', 'kid', 'alg', 'use'] as const) if (jwk[k] !== undefined) out[k] = jwk[k];
  return out;
}

function manifestText(m: BundleManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

function manifestMessage(m: BundleManifest): Buffer {
  const { signature: _omit, ...rest } = m;
  return Buffer.from(canonicalize(rest), 'utf8');
}

/**
 * Writes a bundle into `dir` (created if missing; it must be empty). Returns the manifest.
 * @throws HoopError `conflict` when `dir` is not empty.
 */
export async function writeBundle(dir: string, input: BundleInput): Promise<BundleManifest> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) {
    throw new HoopError('conflict', `${dir} is not empty`, { hint: 'export into a new or empty directory' });
  }
  const files: BundleManifest['files'] = {};

  // records.jsonl, streamed with backpressure.
  const digest = createHash('sha256');
  let bytes = 0;
  let first: AuditRecord | undefined;
  let last: AuditRecord | undefined;
  const out = createWriteStream(join(dir, BUNDLE_FILES.records));
  try {
    for await (const r of input.records) {
      first ??= r;
      last = r;
      const line = Buffer.from(`${canonicalize(r)}\n`, 'utf8');
      digest.update(line);
      bytes += line.length;
      if (!out.write(line)) await once(out, 'drain');
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  files[BUNDLE_FILES.records] = { sha256: digest.digest('hex'), bytes };

  const anchor = first && first.seq > 1 ? { seq: first.seq - 1, hash: first.prev_hash } : null;
  const keys = input.publicKeys.map(publicOnly);
  const createdAt = (input.createdAt ?? new Date()).toISOString();
  const put = async (name: string, text: string): Promise<void> => {
    const buf = Buffer.from(text, 'utf8');
    await writeFile(join(dir, name), buf);
    files[name] = { sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.length };
  };
  await put(BUNDLE_FILES.checkpoints, `${JSON.stringify(input.checkpoints, null, 2)}\n`);
  await put(BUNDLE_FILES.publicKeys, `${JSON.stringify({ keys }, null, 2)}\n`);
  await put(BUNDLE_FILES.sessions, toCsv(input.sessions ?? []));
  await put(BUNDLE_FILES.statements, toCsv(input.statements ?? []));
  await put(BUNDLE_FILES.readme, bundleReadme({
    gateway: input.gateway,
    createdAt,
    since: input.range.since,
    until: input.range.until,
    firstSeq: first?.seq ?? null,
    lastSeq: last?.seq ?? null,
    anchor,
    checkpoints: input.checkpoints.length,
    keys: keys.map((k) => ({ kid: k.kid ?? '?', thumbprint: jwkThumbprint(k) })),
  }));

  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: 1,
    created_at: createdAt,
    gateway: input.gateway,
    range: { since: input.range.since, until: input.range.until, first_seq: first?.seq ?? null, last_seq: last?.seq ?? null },
    anchor,
    files,
  };
  const sig = sign(null, manifestMessage(manifest), input.signer.privateKey).toString('base64url');
  manifest.signature = { kid: input.signer.kid, alg: 'EdDSA', sig };
  await writeFile(join(dir, BUNDLE_FILES.manifest), manifestText(manifest));
  return manifest;
}

async function fileDigest(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), bytes };
}

function isManifest(m: unknown): m is BundleManifest {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Partial<BundleManifest>;
  return x.format === BUNDLE_FORMAT && x.version === 1 && typeof x.files === 'object' && x.files !== null
    && typeof x.range === 'object' && x.range !== null;
}

/** Reads what is readable; a problem is recorded rather than thrown. */
async function readJson(path: string, problems: string[], name: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (e) {
    problems.push(`${name} cannot be read as JSON: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

export interface VerifyBundleOptions {
  /** Keys the auditor trusts (e.g. fetched from the gateway); default: the bundle's own public-keys.json. */
  publicKeys?: readonly JWK[];
}

/**
 * Verifies a bundle: every file against the manifest, the manifest itself, then the chain (from the anchor)
 * and its checkpoints. Never throws for a damaged bundle: everything wrong is in the result.
 */
export async function verifyBundle(dir: string, options: VerifyBundleOptions = {}): Promise<BundleVerifyResult> {
  const problems: string[] = [];
  let manifest: BundleManifest | undefined;
  try {
    const text = await readFile(join(dir, BUNDLE_FILES.manifest), 'utf8');
    const parsed = JSON.parse(text) as unknown;
    if (!isManifest(parsed)) problems.push('manifest.json is not a hoop evidence bundle manifest (version 1)');
    else {
      manifest = parsed;
      if (manifestText(parsed) !== text) problems.push('manifest.json was modified (its bytes differ from how hoop writes it)');
    }
  } catch (e) {
    problems.push(`manifest.json cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }

  if (manifest) {
    for (const name of REQUIRED) if (!(name in manifest.files)) problems.push(`the manifest does not list ${name}`);
    for (const [name, want] of Object.entries(manifest.files)) {
      if (name.includes('/') || name.includes('\\') || name === '..' || name === BUNDLE_FILES.manifest) {
        problems.push(`the manifest lists an invalid file name ${JSON.stringify(name)}`);
        continue;
      }
      try {
        const got = await fileDigest(join(dir, name));
        if (got.sha256 !== want.sha256 || got.bytes !== want.bytes) {
          problems.push(`${name} does not match the manifest (sha256 ${got.sha256}, ${got.bytes} bytes; expected ${want.sha256}, ${want.bytes} bytes)`);
        }
      } catch {
        problems.push(`${name} is listed in the manifest but missing`);
      }
    }
  }

  const keysDoc = await readJson(join(dir, BUNDLE_FILES.publicKeys), problems, BUNDLE_FILES.publicKeys) as { keys?: unknown } | undefined;
  const bundleKeys = Array.isArray(keysDoc?.keys) ? (keysDoc.keys as JWK[]) : [];
  const keys = options.publicKeys ?? bundleKeys;

  let signedBy: BundleVerifyResult['signed_by'] = null;
  if (manifest?.signature) {
    const kid = manifest.signature.kid;
    const key = keysByKid(keys).get(kid);
    let signed: boolean;
    try {
      signed = key !== undefined && verify(null, manifestMessage(manifest), key, Buffer.from(manifest.signature.sig, 'base64url'));
    } catch {
      signed = false;
    }
    const jwk = keys.find((k) => (k.kid ?? jwkThumbprint(k)) === kid);
    if (signed && jwk) signedBy = { kid, thumbprint: jwkThumbprint(jwk) };
    else problems.push(`the manifest signature does not verify (kid ${kid}${options.publicKeys ? ', checked against the keys given' : ''})`);
  } else if (manifest) {
    problems.push('the manifest is not signed: hoop signs every bundle it exports, so this one was written or changed by something else');
  }

  const cpDoc = await readJson(join(dir, BUNDLE_FILES.checkpoints), problems, BUNDLE_FILES.checkpoints);
  const checkpoints = Array.isArray(cpDoc) ? (cpDoc as Checkpoint[]) : [];
  const anchor = manifest?.anchor ?? undefined;
  const verifier = new ChainVerifier({ publicKeys: keys, checkpoints, ...(anchor ? { anchor } : {}) });
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  try {
    const lines = createInterface({ input: createReadStream(join(dir, BUNDLE_FILES.records)), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '') continue;
      let r: AuditRecord;
      try {
        r = JSON.parse(line) as AuditRecord;
      } catch {
        r = {} as AuditRecord; // unreadable: the verifier reports it in place
      }
      if (typeof r?.seq === 'number') {
        firstSeq ??= r.seq;
        lastSeq = r.seq;
      }
      verifier.push(r);
    }
  } catch (e) {
    problems.push(`records.jsonl cannot be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  const chain = verifier.finish();

  if (manifest && (manifest.range.first_seq !== firstSeq || manifest.range.last_seq !== lastSeq)) {
    problems.push(`the manifest says records ${manifest.range.first_seq}–${manifest.range.last_seq}, the file holds ${firstSeq}–${lastSeq}`);
  }
  if (manifest && firstSeq !== null && firstSeq > 1 && manifest.anchor?.seq !== firstSeq - 1) {
    problems.push(`the range starts at seq ${firstSeq} but the manifest has no anchor at seq ${firstSeq - 1}`);
  }
  const manifestOk = problems.length === 0;
  const signed = signedBy !== null;
  return {
    ...chain, manifest_ok: manifestOk, manifest_signed: signed, keys: options.publicKeys ? 'pinned' : 'bundle', signed_by: signedBy, problems,
    valid: chain.ok && manifestOk && signed,
  };
}

