/**
 * `hoop audit verify`, `hoop audit export` and `hoop audit keys`. Verification runs here, in the CLI, over the
 * records the gateway serves: the gateway is not trusted to say its own log is intact. Pin the signing key with
 * --keys to trust nothing the gateway says at verification time. A bundle checked against its own keys proves
 * only that it is intact, so the verdict says whose key signed it (its thumbprint), to compare with
 * `hoop audit keys`.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { JWK } from 'jose';
import { HoopError } from '../../shared/errors.js';
import { ChainVerifier, type VerifyResult } from '../../shared/audit/verify.js';
import { verifyBundle, type BundleManifest } from '../../shared/audit/bundle.js';
import { jwkThumbprint, type AuditRecord, type Checkpoint } from '../../shared/audit/record.js';
import type { CliContext } from '../services/context.js';
import { insecureHttpOption } from '../services/gateway-url.js';
import { clockTime } from '../ui/time.js';
import { parseSince } from '../../shared/duration.js';

const PAGE = 2000;

interface VerifyOptions {
  since?: string;
  bundle?: string;
  keys?: string;
  json?: boolean;
  gateway?: string;
  insecureHttp?: boolean;
}

/** The verifier's result with the keys every other `--json` output uses (last_seq, last_hash). */
function snakeCase<R extends VerifyResult>(r: R): Omit<R, 'lastSeq' | 'lastHash'> & { last_seq?: number; last_hash?: string } {
  if (!r.ok) return r;
  const { lastSeq, lastHash, ...rest } = r;
  return { ...rest, last_seq: lastSeq, last_hash: lastHash };
}

/** `--out` must be a new or empty directory: an export never writes over anything. */
async function checkEmptyOutDir(dir: string): Promise<void> {
  const st = await stat(dir).catch(() => null);
  if (!st) return;
  if (!st.isDirectory()) throw new HoopError('usage', `--out ${dir} is a file, not a directory`, { hint: 'name a new or empty directory' });
  const entries = await readdir(dir);
  if (entries.length > 0) {
    throw new HoopError('usage', `--out ${dir} is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}); an export writes only into a new or empty directory`, {
      hint: 'name a new directory, e.g. --out evidence-$(date +%F)',
    });
  }
}

/** A directory that holds no bundle at all is said to be so, not verified into a "chain OK" over nothing. */
async function checkBundleDir(dir: string): Promise<void> {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) {
    throw new HoopError('not_found', `no evidence bundle at ${dir}: ${st ? 'it is not a directory' : 'no such directory'}`, {
      hint: 'export one with `hoop audit export --out DIR`',
    });
  }
  if (!(await stat(join(dir, 'manifest.json')).catch(() => null))) {
    throw new HoopError('not_found', `no evidence bundle in ${dir}: it has no manifest.json`, {
      hint: 'name the directory `hoop audit export --out` wrote',
    });
  }
}

/**
 * One key of `hoop audit keys` for people: its kid and thumbprint, or the thumbprint once when the kid is the
 * thumbprint (as hoop names its keys), rather than the same 43 characters twice.
 */
export function keyLine(k: { kid: string | null; thumbprint: string }): string {
  if (k.kid === k.thumbprint) return `kid and thumbprint ${k.thumbprint}`;
  return `${k.kid ?? '(no kid)'}  thumbprint ${k.thumbprint}`;
}

/** Checks --since and --until here, before the gateway is asked, so the hint names every form they take. */
function checkTimes(c: CliContext, opts: { since?: string | undefined; until?: string | undefined }): void {
  if (opts.since !== undefined) parseSince(opts.since, c.now(), '--since');
  if (opts.until !== undefined) parseSince(opts.until, c.now(), '--until');
}

/** "1 record", "2 records". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function registerAudit(program: Command, ctx: () => CliContext): void {
  const audit = program.command('audit').description('verify and export the tamper-evident audit log (auditors and admins)');

  audit
    .command('verify')
    .description('check the audit chain and its signed checkpoints; name the first damage and its kind')
    .option('--since <when>', 'verify from this time on (24h, 7d, or an ISO time), anchored to the record before it')
    .option('--bundle <dir>', 'verify an exported evidence bundle offline, with no gateway')
    .option('--keys <file>', 'a JWKS file with the gateway\'s public key(s) to trust (from `hoop audit keys --out`; default: the keys the gateway publishes, or for --bundle the bundle\'s own, which prove only that it is intact)')
    .option('--json', 'print JSON')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .addHelpText('after', `
Damage is named by kind: edited, deleted, inserted, reordered, truncated (records removed after a signed
checkpoint), or bad_checkpoint. A bundle must also match its manifest, and the manifest must be signed.
Exit code 0 when intact, 1 when not.

A bundle verified without --keys is checked against the keys it ships, which whoever wrote it chose: the
verdict then prints the signing key's thumbprint, to compare with \`hoop audit keys\`.`)
    .action(async (opts: VerifyOptions) => {
      const c = ctx();
      const pinned = opts.keys ? await readKeys(opts.keys) : undefined;
      if (opts.bundle) {
        await checkBundleDir(opts.bundle);
        const r = await verifyBundle(opts.bundle, pinned ? { publicKeys: pinned } : {});
        if (opts.json) c.out.json(snakeCase(r));
        else {
          if (r.ok) c.out.print(`chain OK: ${count(r.records, 'record')}, ${count(r.checkpoints, 'signed checkpoint')}, last seq ${r.lastSeq}`);
          else c.out.print(`chain BROKEN at seq ${r.position}: ${r.kind} (${r.detail})`);
          c.out.print(r.manifest_ok ? 'files OK: every file matches the manifest, and the manifest signature verifies' : `files BROKEN: ${r.problems.join('; ')}`);
          if (r.signed_by) {
            const key = `signed by key ${r.signed_by.kid} (SHA-256 thumbprint ${r.signed_by.thumbprint})`;
            if (r.keys === 'pinned') c.out.print(`${key}, one of the keys in ${opts.keys!}`);
            else {
              c.out.print(`${key}, from the bundle's own public-keys.json`);
              c.out.print('  this shows the bundle is intact, not that your gateway wrote it: compare the thumbprint with `hoop audit keys`, or verify with --keys FILE');
            }
          }
        }
        if (!r.valid) throw new HoopError('conflict', `the evidence bundle in ${opts.bundle} does not verify`);
        return;
      }
      checkTimes(c, opts);
      const api = c.gateway(c.gatewayUrl(opts));
      const keys = pinned ?? ((await api.auditKeys()) as JWK[]);
      const checkpoints = (await api.auditCheckpoints()) as Checkpoint[];
      let page = await api.auditRecords({ fromSeq: 1, limit: PAGE, ...(opts.since ? { since: opts.since } : {}) });
      if (opts.since && page.records.length === 0) {
        // Nothing was recorded since then: an empty range, not a log cut short (no checkpoint can cover it).
        const tail = page.anchor ? ` (the log ends at seq ${page.anchor.seq})` : '';
        if (opts.json) c.out.json({ ok: true, records: 0, checkpoints: 0, first_seq: null, last_seq: page.anchor?.seq ?? null, since: opts.since });
        else c.out.print(`audit log OK: no records since ${opts.since}${tail}`);
        return;
      }
      const verifier = new ChainVerifier({
        publicKeys: keys,
        checkpoints: opts.since ? checkpoints.filter((k) => page.records[0] === undefined || k.seq >= page.records[0].seq - 1) : checkpoints,
        ...(page.anchor ? { anchor: page.anchor } : {}),
      });
      let first: number | undefined;
      for (;;) {
        for (const r of page.records) {
          first ??= r.seq;
          verifier.push(r as AuditRecord);
        }
        if (page.next_from_seq === null || verifier.settled) break;
        // The continuation makes the gateway record this verification as one read, not one per page.
        page = await api.auditRecords({ fromSeq: page.next_from_seq, limit: PAGE, ...(page.continuation ? { continuation: page.continuation } : {}) });
      }
      const result: VerifyResult = verifier.finish();
      const unsigned = result.ok ? result.lastSeq - Math.max(0, ...checkpoints.map((k) => k.seq)) : 0;
      const last = checkpoints.at(-1);
      if (opts.json) {
        c.out.json({
          ...snakeCase(result), first_seq: first ?? null, unsigned_tail: Math.max(0, unsigned),
          last_checkpoint: last ? { seq: last.seq, time: last.time } : null,
        });
      } else if (result.ok) {
        c.out.print(`audit log OK: ${count(result.records, 'record')} (seq ${first ?? '-'}–${result.lastSeq}), ${count(result.checkpoints, 'signed checkpoint')} verified`);
        if (last) c.out.print(`last checkpoint: seq ${last.seq} at ${clockTime(last.time, c.now())}${unsigned > 0 ? `; ${count(unsigned, 'later record')} ${unsigned === 1 ? 'is' : 'are'} linked but not signed yet` : ''}`);
      } else {
        c.out.print(`audit log BROKEN at seq ${result.position}: ${result.kind}`);
        c.out.print(`  ${result.detail}`);
      }
      if (!result.ok) throw new HoopError('conflict', `the audit log does not verify: ${result.kind} at seq ${result.position}`);
    });

  audit
    .command('keys')
    .description('show the gateway\'s audit signing keys (to check a bundle against), or save them as a JWKS file')
    .option('--out <file>', 'write the keys as a JWKS file for `hoop audit verify --keys` (never over an existing file)')
    .option('--json', 'print JSON')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .addHelpText('after', `
Each key is shown with its RFC 7638 SHA-256 thumbprint: the one \`hoop audit verify --bundle\` prints for the key
that signed a bundle. Ask the gateway over a channel you trust (its TLS certificate verified), and keep the file
with the evidence.`)
    .action(async (opts: { out?: string; json?: boolean; gateway?: string; insecureHttp?: boolean }) => {
      const c = ctx();
      const keys = (await c.gateway(c.gatewayUrl(opts)).auditKeys()) as JWK[];
      if (opts.out) {
        await writeFile(opts.out, `${JSON.stringify({ keys }, null, 2)}\n`, { flag: 'wx' }).catch((e: unknown) => {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          throw new HoopError('usage', `--out ${opts.out!} already exists; keys are never written over a file`, { hint: 'name a new file' });
        });
      }
      const shown = keys.map((k) => ({ kid: k.kid ?? null, thumbprint: jwkThumbprint(k), jwk: k }));
      if (opts.json) c.out.json({ keys: shown, ...(opts.out ? { written_to: opts.out } : {}) });
      else {
        for (const k of shown) c.out.print(keyLine(k));
        if (opts.out) c.out.print(`Wrote ${count(keys.length, 'key')} to ${opts.out}. Check a bundle against them: hoop audit verify --bundle DIR --keys ${opts.out}`);
      }
    });

  audit
    .command('export')
    .description('write a signed evidence bundle an auditor can verify offline')
    .option('--since <when>', 'from this time (24h, 7d, or an ISO time); default: the beginning')
    .option('--until <when>', 'until this time (an ISO time, or 24h, 7d… back from now); default: now')
    .requiredOption('--out <dir>', 'the directory to write (created; must be empty if it exists)')
    .option('--json', 'print what was written as JSON: the directory, the files, the range and the signing key')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .addHelpText('after', `
The bundle holds the records as JSON Lines, the signed checkpoints, the public key, a signed manifest with
every file's SHA-256, CSV views of sessions and statements, and a README for the auditor.
Check it anywhere with: hoop audit verify --bundle DIR`)
    .action(async (opts: { since?: string; until?: string; out: string; json?: boolean; gateway?: string; insecureHttp?: boolean }) => {
      const c = ctx();
      checkTimes(c, opts);
      // Checked before anything is asked of the gateway, and again by each write (never over a file).
      await checkEmptyOutDir(opts.out);
      const files = await c.gateway(c.gatewayUrl(opts)).auditExport({
        ...(opts.since ? { since: opts.since } : {}), ...(opts.until ? { until: opts.until } : {}),
      });
      await mkdir(opts.out, { recursive: true });
      for (const [name, b64] of Object.entries(files)) {
        if (!/^[\w.-]+$/.test(name)) throw new HoopError('internal', `the gateway sent an unexpected file name "${name}"`);
        await writeFile(join(opts.out, name), Buffer.from(b64, 'base64'), { flag: 'wx' }).catch((e: unknown) => {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          throw new HoopError('conflict', `${join(opts.out, name)} appeared while the bundle was written; nothing was overwritten`, { hint: 'export into a new or empty directory' });
        });
      }
      if (opts.json) {
        const m = JSON.parse(Buffer.from(files['manifest.json'] ?? '', 'base64').toString('utf8')) as BundleManifest;
        c.out.json({ out: opts.out, files: Object.keys(files).sort(), range: m.range, signed_by: m.signature?.kid ?? null });
      } else {
        c.out.print(`Wrote ${Object.keys(files).length} files to ${opts.out}. Verify with: hoop audit verify --bundle ${opts.out}`);
      }
    });
}

async function readKeys(file: string): Promise<JWK[]> {
  let keys: JWK[];
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as { keys?: JWK[] } | JWK[];
    keys = Array.isArray(j) ? j : (j.keys ?? []);
  } catch (e) {
    throw new HoopError('usage', `cannot read the keys in ${file}`, { cause: e, hint: 'pass a JWKS file: {"keys": [...]}, e.g. from `hoop audit keys --out FILE`' });
  }
  if (keys.length === 0) throw new HoopError('usage', `${file} holds no keys`, { hint: 'save the gateway\'s keys with `hoop audit keys --out FILE`' });
  return keys;
}
