import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyBundle, writeBundle, type BundleInput } from '../../../../shared/audit/bundle.js';
import { canonicalize } from '../../../../shared/audit/canonical.js';
import { isHoopError } from '../../../../shared/errors.js';
import type { AuditRecord } from '../../../../shared/audit/record.js';
import { buildChain, checkpointAt, rehash, testKey } from './chain-fixture.js';

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

function input(records: AuditRecord[], signed = true): BundleInput {
  return {
    records,
    checkpoints: cps.filter((c) => c.seq >= records[0]!.seq - 1 && c.seq <= records[records.length - 1]!.seq),
    publicKeys: [{ ...key.publicJwk, d: 'must-not-leak' }],
    gateway: 'https://hoop.example.com',
    range: { since: '2026-01-02T00:00:00.000Z', until: '2026-01-03T00:00:00.000Z' },
    sessions: [{ id: 's1', subject: 'alice', reason: 'incident, "urgent"' }],
    statements: [{ session_id: 's1', seq: 1, text: 'select *\nfrom customers' }],
    createdAt: new Date(Date.UTC(2026, 0, 3)),
    ...(signed ? { signer: { kid: key.kid, privateKey: key.privateKey } } : {}),
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
      manifest_ok: true, manifest_signed: true, problems: [], valid: true,
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

  it('names chain damage even when the forger fixed the manifest of an unsigned bundle', async () => {
    const dir = await tmp();
    await writeBundle(dir, input(chain, false));
    const tampered = chain.map((r) => (r.seq === 12 ? rehash({ ...r, data: { text: 'nothing to see' } }) : r));
    const text = tampered.map((r) => `${canonicalize(r)}\n`).join('');
    await writeFile(join(dir, 'records.jsonl'), text);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string; bytes: number }> };
    const { createHash } = await import('node:crypto');
    manifest.files['records.jsonl'] = { sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text) };
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const r = await verifyBundle(dir);
    expect(r).toMatchObject({ ok: false, kind: 'edited', position: 12, manifest_ok: true, manifest_signed: false, valid: false });
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
