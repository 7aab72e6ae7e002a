/**
 * Pieces of `hoop gateway check` that the end-to-end test does not reach: a certificate out of date or a key that
 * is not its own, a master key file that is not a key, a target's TCP probe, and the printed form.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkMasterKey, checkTls } from '../../../gateway/check/checks.js';
import { formatChecks } from '../../../gateway/check/report.js';
import { tcpProblem } from '../../../gateway/check/tcp-probe.js';

const tls = { cert_file: inject('tlsCertFile'), key_file: inject('tlsKeyFile') };
const cert = new X509Certificate(readFileSync(tls.cert_file, 'utf8'));
const read = async (p: string): Promise<string> => readFileSync(p, 'utf8');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoop-check-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkTls', () => {
  it('fails a certificate that has expired or is not valid yet, as every client would refuse it', async () => {
    const after = await checkTls(tls, 'https://127.0.0.1:8443', new Date(Date.parse(cert.validTo) + 60_000), read);
    expect(after).toMatchObject({ check: 'tls', ok: false, detail: expect.stringContaining('the certificate in tls.cert_file expired at') as string });
    const before = await checkTls(tls, 'https://127.0.0.1:8443', new Date(Date.parse(cert.validFrom) - 86_400_000), read);
    expect(before).toMatchObject({ ok: false, detail: expect.stringContaining('is not valid before') as string });
  });

  it('passes one in date, with start-up\'s warnings (another host) in its detail', async () => {
    const r = await checkTls(tls, 'https://hoop.example.com', new Date(Date.parse(cert.validFrom) + 60_000), read);
    expect(r.ok).toBe(true);
    expect(r.detail).toContain('warning: the certificate in tls.cert_file is not for hoop.example.com');
  });

  it('fails a key that is not the certificate\'s, without quoting either', async () => {
    const other = join(dir, 'other.key');
    await writeFile(other, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const r = await checkTls({ ...tls, key_file: other }, 'https://127.0.0.1', new Date(Date.parse(cert.validFrom) + 60_000), read);
    expect(r).toEqual({ check: 'tls', ok: false, detail: `cannot use ${tls.cert_file} with ${other} (the key is not the certificate's)` });
  });
});

describe('checkMasterKey', () => {
  it('fails a data_dir/master.key that is not a key, naming the file and not its contents', async () => {
    const junk = randomBytes(20).toString('base64');
    await writeFile(join(dir, 'master.key'), `${junk}\n`);
    const r = await checkMasterKey({ configured: undefined, env: {}, dataDir: dir, db: undefined });
    expect(r).toEqual({ check: 'master key', ok: false, detail: `${join(dir, 'master.key')}: the master key must be 32 bytes, base64-encoded (hint: generate one with \`openssl rand -base64 32\`)` });
    expect(r.detail).not.toContain(junk);
  });
});

describe('tcpProblem', () => {
  it('null when a connection opens (and it is closed at once), the reason when it cannot', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    expect(await tcpProblem('127.0.0.1', port, 1000)).toBeNull();
    await new Promise<void>((r) => server.close(() => r()));
    expect(await tcpProblem('127.0.0.1', port, 1000)).toBe('connection refused');
    expect(await tcpProblem('no-such-host.invalid', 5432, 1000)).toMatch(/^(host not found|host name lookup failed \(temporary\))$/);
  });
});

describe('formatChecks', () => {
  const results = [{ check: 'config', ok: true, detail: 'valid' }, { check: 'connection shop', ok: false, detail: 'says \u001b[2Jhi\nthere' }];
  it('prints one line per check, control characters escaped, and a summary', () => {
    expect(formatChecks(results, false)).toBe('ok   config: valid\nFAIL connection shop: says \\x1b[2Jhi\\x0athere\n1 of 2 checks failed\n');
  });
  it('--json: the array of {check, ok, detail}', () => {
    expect(JSON.parse(formatChecks(results, true))).toEqual(results);
  });
});
