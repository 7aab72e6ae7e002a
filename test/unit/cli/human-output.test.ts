/**
 * What `hoop sessions show|replay|--since`, `hoop audit verify` and `hoop audit keys` print for people, run as a
 * user would (through commander) against a stand-in gateway: times as docs/cli.md promises (`04:13:44Z`, the
 * date in front on another day), --json untouched (ISO), and hints that name every accepted form.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerSessions } from '../../../cli/commands/sessions.js';
import { registerAudit } from '../../../cli/commands/audit.js';
import type { CliContext } from '../../../cli/services/context.js';
import type { Output } from '../../../cli/ui/output.js';
import type { Replay, SessionDetail, SessionSummary } from '../../../shared/api/schemas.js';
import { HoopError } from '../../../shared/errors.js';
import { jwkThumbprint } from '../../../shared/audit/record.js';
import { buildChain, checkpointAt, testKey } from '../shared/audit/chain-fixture.js';

const NOW = new Date('2026-11-22T09:00:00.000Z');

const SESSION: SessionSummary = {
  id: '5b0c6f1e-0a4e-4d0b-9c55-3f2b1d7e8a90', connection: 'shop', subject: 'alice', grant_id: '2e342236-7f0e-4b6e-9d1c-1f2a3b4c5d6e',
  client_application: 'psql', client_user: 'alice', database: 'shop',
  started_at: '2026-11-22T07:43:12.826Z', ended_at: '2026-11-22T07:44:02.004Z', end_reason: 'client closed',
  bytes_from_client: 10, bytes_to_client: 20, statement_count: 1, identity: null,
};

const DETAIL: SessionDetail = {
  session: SESSION,
  statements: [{
    seq: 1, text: 'SELECT 1', parameters: null, protocol: 'simple', started_at: '2026-11-22T07:43:13.120Z', duration_ms: 0.4,
    rows: 1, command_tag: 'SELECT 1', error_code: null, error_message: null, decision: 'allow',
  }],
};

const REPLAY: Replay = { session: { ...SESSION, started_at: '2026-11-21T07:32:31.524Z' }, events: [] };

interface Run {
  out: string[];
  err: string[];
  asked: string[];
  error: unknown;
}

/** Runs `hoop <args>` with a gateway that answers from fixtures and notes what it was asked. */
async function hoop(args: string[], gateway: Record<string, unknown> = {}): Promise<Run> {
  const run: Run = { out: [], err: [], asked: [], error: undefined };
  const out = {
    print: (l: string) => run.out.push(...l.split('\n')),
    json: (v: unknown) => run.out.push(...JSON.stringify(v, null, 2).split('\n')),
    info: (l: string) => run.err.push(l),
    warn: (l: string) => run.err.push(l),
    error: (l: string) => run.err.push(l),
  } as unknown as Output;
  const api = new Proxy(gateway, {
    get: (target, name: string) => (...a: unknown[]) => {
      run.asked.push(name);
      const answer = target[name];
      if (answer === undefined) throw new Error(`the gateway was not expected to be asked for ${name}`);
      return Promise.resolve(typeof answer === 'function' ? (answer as (...x: unknown[]) => unknown)(...a) : answer);
    },
  });
  const ctx = { out, now: () => NOW, gatewayUrl: () => 'http://127.0.0.1:8009', gateway: () => api } as unknown as CliContext;
  const program = new Command('hoop').exitOverride().enablePositionalOptions();
  registerSessions(program, () => ctx);
  registerAudit(program, () => ctx);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    run.error = e;
  }
  return run;
}

describe('times for people', () => {
  it('hoop sessions show: start, end and each statement as 07:43:12Z; --json keeps ISO', async () => {
    const r = await hoop(['sessions', 'show', SESSION.id], { session: DETAIL });
    expect(r.error).toBeUndefined();
    expect(r.out).toContain('  started:     07:43:12Z');
    expect(r.out).toContain('  ended:       07:44:02Z (client closed)');
    expect(r.out.find((l) => l.startsWith('1 '))).toMatch(/^1\s+07:43:13Z\s+0\.4\s+1\s+SELECT 1\s+SELECT 1$/);
    expect(r.out.join('\n')).not.toMatch(/\d{2}:\d{2}:\d{2}\.\d/);

    const json = JSON.parse((await hoop(['sessions', 'show', SESSION.id, '--json'], { session: DETAIL })).out.join('\n')) as SessionDetail;
    expect(json.session.started_at).toBe('2026-11-22T07:43:12.826Z');
    expect(json.statements[0]!.started_at).toBe('2026-11-22T07:43:13.120Z');
  });

  it('hoop sessions replay: the start with its date when it was not today', async () => {
    const r = await hoop(['sessions', 'replay', SESSION.id], { replay: REPLAY });
    expect(r.error).toBeUndefined();
    expect(r.out[0]).toBe(`Session ${SESSION.id}: alice on shop (psql), started 2026-11-21 07:32:31Z`);
  });

  it('hoop audit verify: the last checkpoint\'s time, though the chain writes it with six fraction digits', async () => {
    const key = testKey();
    const chain = buildChain(5); // on 2026-01-02, from 03:04:06
    const checkpoint = checkpointAt(chain, 5, key);
    expect(checkpoint.time).toMatch(/\.\d{6}Z$/);
    const gateway = {
      auditKeys: [key.publicJwk],
      auditCheckpoints: [checkpoint],
      auditRecords: { records: chain, next_from_seq: null, anchor: null, continuation: null },
    };
    const r = await hoop(['audit', 'verify'], gateway);
    expect(r.error).toBeUndefined();
    expect(r.out).toEqual([
      'audit log OK: 5 records (seq 1–5), 1 signed checkpoint verified',
      'last checkpoint: seq 5 at 2026-01-02 03:04:10Z',
    ]);
    const json = JSON.parse((await hoop(['audit', 'verify', '--json'], gateway)).out.join('\n')) as { last_checkpoint: { time: string } };
    expect(json.last_checkpoint.time).toBe(checkpoint.time);
  });
});

describe('--since: the hint names every form it takes', () => {
  for (const args of [['sessions', '--since', 'yesterday'], ['audit', 'verify', '--since', 'yesterday'], ['audit', 'export', '--since', 'yesterday', '--out', '/nonexistent/x']]) {
    it(`hoop ${args.join(' ')}: a usage error before the gateway is asked`, async () => {
      const r = await hoop(args);
      expect(r.error).toBeInstanceOf(HoopError);
      expect(r.error).toMatchObject({ code: 'usage', message: 'invalid --since "yesterday"' });
      const hint = (r.error as HoopError).hint ?? '';
      for (const form of ['30m', '24h', '7d', '1h30m', 'ISO time', '2026-01-02T04:13:44Z']) expect(hint).toContain(form);
      expect(r.asked).toEqual([]);
    });
  }

  it('7d and ISO times go to the gateway as given', async () => {
    for (const since of ['7d', '2026-11-01T00:00:00Z']) {
      const r = await hoop(['sessions', '--since', since], { sessions: (q: { since?: string }) => (expect(q.since).toBe(since), []) });
      expect(r.error).toBeUndefined();
      expect(r.out).toEqual(['No sessions match.']);
    }
  });
});

describe('hoop audit keys', () => {
  it('shows a key named by its thumbprint once; another kid next to its thumbprint; --json unchanged', async () => {
    const own = testKey(); // kid = thumbprint, as the gateway names its keys
    const other = testKey();
    const renamed = { ...other.publicJwk, kid: 'audit-2026' };
    const r = await hoop(['audit', 'keys'], { auditKeys: [own.publicJwk, renamed] });
    expect(r.error).toBeUndefined();
    expect(r.out).toEqual([`kid and thumbprint ${own.kid}`, `audit-2026  thumbprint ${jwkThumbprint(renamed)}`]);

    const json = JSON.parse((await hoop(['audit', 'keys', '--json'], { auditKeys: [own.publicJwk] })).out.join('\n')) as { keys: unknown[] };
    expect(json.keys).toEqual([{ kid: own.kid, thumbprint: own.kid, jwk: own.publicJwk }]);
  });
});
