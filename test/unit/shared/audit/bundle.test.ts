import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, sign } from 'node:crypto';
import { verifyBundle, writeBundle, type BundleInput, type BundleManifest } from '../../../../shared/audit/bundle.js';
import { canonicalize } from '../../../../shared/audit/canonical.js';
import { isHoopError } from '../../../../shared/errors.js';
import { jwkThumbprint, type AuditRecord } from '../../../../shared/audit/record.js';
import { buildChain, checkpointAt, rehash, testKey, type TestKey } from './chain-fixture.js';

const key = testKey();
const chain = buildChain(40);
const cps = [10, 20, 30, 40].map((s) => checkpointAt(chain, s, key));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'hoop-bundle-'));
  dirs.push(d);
  return d;
}

function input(records: AuditRecord[]): BundleInput {
  return {
    records,
    checkpoints: cps.filter((c) => c.seq >= records[0]!.seq - 1 && c.seq <= records[records.length - 1]!.seq),
    publicKeys: [{ ...key.publicJwk, d: 'must-not-leak' }],
    gateway: 'https://hoop.example.com',
    range: { since: '2026-01-02T00:00:00.000Z', until: '2026-01-03T00:00:00.000Z' },
    sessions: [{ id: 's1', subject: 'alice', reason: 'incident, "urgent"' }],
    statements: [{ session_id: 's1', seq: 1, text: 'select *\nfrom customers' }],
    createdAt: new Date(Date.UTC(2026, 0, 3)),
    signer: { kid: key.kid, privateKey: key.privateKey },
  };
}

describe('evidence bundle', () => {
  it('writes every file, lists each in a signed manifest, and verifies', async () => {
    const dir = await tmp();
    const manifest = await writeBundle(dir, input(chain));
    expect((await readdir(dir)).sort()).toEqual(['README.md', 'checkpoints.json', 'manifest.json', 'public-keys.json', 'records.jsonl', 'sessions.csv', 'statements.csv']);
    expect(Object.keys(manifest.files).sort()).toEqual(['README.md', 'checkpoints.json', 'public-keys.json', 'records.jsonl', 'sessions.csv', 'statements.csv']);
    expect(manifest).toMatchObject({ format: 'hoop-evidence-bundle', version: 1, anchor: null, range: { first_seq: 1, last_seq: 40 }, signature: { kid: key.kid, alg: 'EdDSA' } });
    expect(await readFile(join(dir, 'public-keys.json'), 'utf8')).not.toContain('must-not-leak');
    const lines = (await readFile(join(dir, 'records.jsonl'), 'utf8')).split('\n');
    expect(lines[0]).toBe(canonicalize(chain[0]));
    expect(await readFile(join(dir, 'sessions.csv'), 'utf8')).toBe('id,subject,reason\r\ns1,alice,"incident, ""urgent"""\r\n');
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('hoop audit verify --bundle');
    expect(readme).toContain('RFC 8785');
    expect(await verifyBundle(dir)).toEqual({
      ok: true, records: 40, checkpoints: 4, lastSeq: 40, lastHash: chain[39]!.hash,
      manifest_ok: true, manifest_signed: true, keys: 'bundle', signed_by: { kid: key.kid, thumbprint: jwkThumbprint(key.publicJwk) }, problems: [], valid: true,
    });
  });

  it('carries the anchor for a range that starts in the middle, and the checkpoint at it', async () => {
    const dir = await tmp();
    const manifest = await writeBundle(dir, input(chain.slice(20)));
    expect(manifest.anchor).toEqual({ seq: 20, hash: chain[19]!.hash });
    expect(await verifyBundle(dir)).toMatchObject({ valid: true, records: 20, checkpoints: 3, lastSeq: 40 });
  });

  it('streams records from an async iterable', async () => {
    const dir = await tmp();
    async function* gen(): AsyncGenerator<AuditRecord> {
      for (const r of chain) yield r;
    }
    await writeBundle(dir, { ...input(chain), records: gen() });
    expect((await verifyBundle(dir)).valid).toBe(true);
  });

  it('fails when any one byte of any file changes', async () => {
    const dir = await tmp();
    await writeBundle(dir, input(chain.slice(5)));
    for (const name of await readdir(dir)) {
      const original = await readFile(join(dir, name));
      const positions = new Set([0, original.length - 1]);
      for (let i = 1; i < 24; i++) positions.add(Math.floor((original.length * i) / 24));
      for (const at of positions) {
        const changed = Buffer.from(original);
        changed[at] = changed[at]! ^ 0x01;
        await writeFile(join(dir, name), changed);
        const r = await verifyBundle(dir);
        expect(r.valid, `${name} byte ${at}`).toBe(false);
        expect(r.manifest_ok, `${name} byte ${at}`).toBe(false);
      }
      await writeFile(join(dir, name), original);
    }
    expect((await verifyBundle(dir)).valid).toBe(true);
  });

  /**
   * What a careful forger does: edit a record, recompute every hash and link after it, drop the checkpoints that
   * would catch that, and recompute the manifest's digests; then either drop the signature, or sign with a key of
   * their own and ship it as the bundle's public key.
   */
  async function forge(dir: string, resign?: TestKey): Promise<void> {
    const forged: AuditRecord[] = [];
    for (const r of chain) {
      const prev = forged.at(-1);
      forged.push(rehash({ ...r, ...(r.seq === 12 ? { data: { text: 'nothing to see' } } : {}), prev_hash: prev ? prev.hash : r.prev_hash }));
    }
    const files: Record<string, string> = {
      'records.jsonl': forged.map((r) => `${canonicalize(r)}\n`).join(''),
      'checkpoints.json': '[]\n',
      ...(resign ? { 'public-keys.json': `${JSON.stringify({ keys: [resign.publicJwk] }, null, 2)}\n` } : {}),
    };
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(dir, name), text);
      manifest.files[name] = { sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text) };
    }
    delete manifest.signature;
    if (resign) {
      const sig = sign(null, Buffer.from(canonicalize(manifest), 'utf8'), resign.privateKey).toString('base64url');
      manifest.signature = { kid: resign.kid, alg: 'EdDSA', sig };
    }
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }

  it('refuses a forged bundle whose manifest signature was dropped, with or without pinned keys', async () => {
    const dir = await tmp();
    await writeBundle(dir, input(chain));
    await forge(dir);
    for (const r of [await verifyBundle(dir), await verifyBundle(dir, { publicKeys: [key.publicJwk] })]) {
      expect(r).toMatchObject({ ok: true, checkpoints: 0, manifest_signed: false, signed_by: null, valid: false });
      expect(r.problems).toContain('the manifest is not signed: hoop signs every bundle it exports, so this one was written or changed by something else');
    }
  });

  it('says a bundle re-signed with a key of its own proves only that key, and refuses it against the gateway\'s', async () => {
    const dir = await tmp();
    await writeBundle(dir, input(chain));
    const forger = testKey();
    await forge(dir, forger);
    // Intact, but signed by the key it ships: the thumbprint is the forger's, not the gateway's.
    expect(await verifyBundle(dir)).toMatchObject({ valid: true, keys: 'bundle', signed_by: { thumbprint: jwkThumbprint(forger.publicJwk) } });
    const pinned = await verifyBundle(dir, { publicKeys: [key.publicJwk] });
    expect(pinned).toMatchObject({ keys: 'pinned', manifest_signed: false, signed_by: null, valid: false });
    expect(pinned.problems.join()).toContain('the manifest signature does not verify');
  });

  it('checks against pinned keys instead of the bundle\'s own', async () => {
    const dir = await tmp();
    await writeBundle(dir, input(chain));
    const r = await verifyBundle(dir, { publicKeys: [testKey().publicJwk] });
    expect(r).toMatchObject({ ok: false, kind: 'bad_checkpoint', manifest_signed: false, valid: false });
    expect(r.problems.join()).toContain('signature does not verify');
  });

  it('reports a missing file and refuses to write into a non-empty directory', async () => {
    const dir = await tmp();
    await writeBundle(dir, input(chain));
    await rm(join(dir, 'statements.csv'));
    expect((await verifyBundle(dir)).problems).toEqual(['statements.csv is listed in the manifest but missing']);
    const err: unknown = await writeBundle(dir, input(chain)).catch((e: unknown) => e);
    expect(isHoopError(err) && err.code).toBe('conflict');
  });

  it('verifies an empty range', async () => {
    const dir = await tmp();
    await writeBundle(dir, { ...input(chain), records: [], checkpoints: [] });
    expect(await verifyBundle(dir)).toMatchObject({ valid: true, records: 0 });
  });
});
