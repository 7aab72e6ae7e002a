/**
 * `hoop exec` as CI runs it: no TTY, credentials from the environment only, exact output per format, exit
 * codes per cause, and workload identity from a real second issuer (a GitHub-Actions-shaped CI provider).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startCiIssuer, type CiIssuer } from '../helpers/ci-issuer.js';
import { HOOP_BIN, startStack, User, type Stack } from '../helpers/stack.js';

let stack: Stack;
let ci: CiIssuer;
let alice: User;
let bob: User;
let runner: User; // a CI runner: no login at all

beforeAll(async () => {
  ci = await startCiIssuer();
  stack = await startStack({
    identityExtra: `  workload_issuers:
    - issuer: ${ci.issuer}
      audience: hoop
      allow: { repository: [acme/payments], ref: [refs/heads/main, refs/heads/release/*] }
      groups: [ci-deployers]`,
    extraConnections: `
  - name: brief
    type: postgres
    host: 127.0.0.1
    port: \${env:SHOP_PORT}
    database: \${env:SHOP_DB}
    user: \${env:SHOP_USER}
    password: \${env:SHOP_PW}
    tls: { mode: disable }
    access: { groups: [engineers, ci-deployers], max_duration: 10m }`,
  });
  const admin = new pg.Client({ connectionString: stack.shopAdminUrl });
  await admin.connect();
  await admin.query(`CREATE TABLE exec_fixture (id int PRIMARY KEY, label text, price numeric(6,2), ok boolean, note text)`);
  await admin.query(`INSERT INTO exec_fixture VALUES (1, 'apple', 1.5, true, NULL), (2, 'pear, ripe', 2, false, 'say "hi"'), (3, 'fig', 0.75, true, 'two' || chr(10) || 'lines')`);
  await admin.query(`ALTER TABLE exec_fixture OWNER TO ${stack.shopRole}`);
  await admin.end();
  alice = new User('alice', stack);
  bob = new User('bob', stack);
  runner = new User('runner', stack);
  expect((await alice.login()).code).toBe(0);
  expect((await bob.login()).code).toBe(0);
});

afterAll(async () => {
  await stack?.close();
  await ci?.close();
});

const SELECT = 'SELECT id, label, price, ok, note FROM exec_fixture ORDER BY id';

describe('hoop exec output', () => {
  it('prints CSV by default when stdout is not a terminal', async () => {
    const r = await alice.hoop(['exec', 'shop', '-i', SELECT]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('id,label,price,ok,note\n1,apple,1.50,true,\n2,"pear, ripe",2.00,false,"say ""hi"""\n3,fig,0.75,true,"two\nlines"\n');
  });

  it('writes the data byte for byte: control characters in values stay as they are (only text for people is escaped)', async () => {
    const r = await alice.hoop(['exec', 'shop', '-i', "SELECT E'a\\x1b[2Kb' AS v"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('v\na\u001b[2Kb\n');
  });

  it('gives its grant back when it is done: no live grant outlasts the job', async () => {
    const r = await alice.hoop(['exec', 'shop', '-i', 'SELECT 1']);
    expect(r.code, r.stderr).toBe(0);
    const { grants } = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ issued_at: string; revoked_at: string | null }> };
    const newest = grants.sort((a, b) => b.issued_at.localeCompare(a.issued_at))[0]!;
    expect(newest.revoked_at).toEqual(expect.any(String));
  });

  it('prints an aligned table with --format table', async () => {
    const r = await alice.hoop(['exec', 'shop', '--format', 'table', '-i', SELECT]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe([
      ' id | label      | price | ok    | note',
      '----+------------+-------+-------+-----------',
      '  1 | apple      | 1.50  | true  |',
      '  2 | pear, ripe | 2.00  | false | say "hi"',
      '  3 | fig        | 0.75  | true  | two↵lines',
      '(3 rows)',
      '',
    ].join('\n'));
  });

  it('prints one JSON object per statement with --format json', async () => {
    const r = await alice.hoop(['exec', 'shop', '--format', 'json', '-i', `${SELECT}; SELECT 1 AS one`]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      {
        statement: SELECT,
        command: 'SELECT',
        row_count: 3,
        columns: ['id', 'label', 'price', 'ok', 'note'],
        rows: [[1, 'apple', '1.50', true, null], [2, 'pear, ripe', '2.00', false, 'say "hi"'], [3, 'fig', '0.75', true, 'two\nlines']],
      },
      { statement: 'SELECT 1 AS one', command: 'SELECT', row_count: 1, columns: ['one'], rows: [[1]] },
    ]);
  });

  it('runs several statements in order, from stdin', async () => {
    const r = await alice.hoop(['exec', 'shop'], {
      input: "INSERT INTO exec_fixture VALUES (10, 'kiwi', 3, true, NULL);\nUPDATE exec_fixture SET price = price * 2 WHERE id = 10;\nSELECT id, price FROM exec_fixture WHERE id = 10;\nDELETE FROM exec_fixture WHERE id = 10;",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('id,price\n10,6.00\n');
    expect(r.stderr).toContain('INSERT 0 1');
    expect(r.stderr).toContain('UPDATE 1');
    expect(r.stderr).toContain('DELETE 1');
  });

  it('reads SQL from a file with -f', async () => {
    const file = join(stack.tmp, 'q.sql');
    await writeFile(file, '-- a comment; with a semicolon\nSELECT label FROM exec_fixture WHERE id = 3;');
    const r = await alice.hoop(['exec', 'shop', '-f', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('label\nfig\n');
  });
});

describe('hoop exec and COPY', () => {
  it('writes COPY … TO STDOUT data to stdout as COPY formats it, and the tag to stderr', async () => {
    const r = await alice.hoop(['exec', 'shop', '-i', 'COPY (SELECT id, label, note FROM exec_fixture ORDER BY id) TO STDOUT; SELECT 1 AS after']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1\tapple\t\\N\n2\tpear, ripe\tsay "hi"\n3\tfig\ttwo\\nlines\nafter\n1\n');
    expect(r.stderr).toContain('COPY 3');
  });

  it('exits 8 when the target refuses the COPY', async () => {
    const r = await alice.hoop(['exec', 'shop', '-i', 'COPY no_such_table TO STDOUT']);
    expect(r.code).toBe(8);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('relation "no_such_table" does not exist (SQLSTATE 42P01)');
  });

  it('reads COPY options and skips leading comments', async () => {
    const r = await alice.hoop(['exec', 'shop', '--format', 'table', '-i', '/* export */ -- prices\ncopy (SELECT id, price FROM exec_fixture WHERE id < 3 ORDER BY id) to stdout with (format csv, header)']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('id,price\n1,1.50\n2,2.00\n');
  });

  it('refuses COPY … FROM STDIN and COPY … TO STDOUT with --format json (exit 2), before running anything', async () => {
    const into = await alice.hoop(['exec', 'shop', '-i', 'SELECT 1 AS first; COPY exec_fixture FROM STDIN']);
    expect(into.code).toBe(2);
    expect(into.stdout).toBe('');
    expect(into.stderr).toContain('hoop exec cannot send data for COPY … FROM STDIN');
    const json = await alice.hoop(['exec', 'shop', '--format', 'json', '-i', 'COPY exec_fixture TO STDOUT']);
    expect(json.code).toBe(2);
    expect(json.stdout).toBe('');
    expect(json.stderr).toContain('--format json cannot hold');
  });
});

describe('hoop exec exit codes', () => {
  it('exits 8 when the target rejects a statement, and stops there', async () => {
    const r = await alice.hoop(['exec', 'shop', '-i', 'SELECT 1 AS first; SELECT * FROM no_such_table; SELECT 3 AS never']);
    expect(r.code).toBe(8);
    expect(r.stdout).toBe('first\n1\n');
    expect(r.stderr).toContain('error: relation "no_such_table" does not exist (SQLSTATE 42P01)');
  });

  it('exits 3 with no credential at all', async () => {
    const r = await runner.hoop(['exec', 'shop', '-i', 'SELECT 1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('not logged in');
  });

  it('exits 4 when access is denied', async () => {
    const r = await alice.hoop(['exec', 'billing', '-i', 'SELECT 1']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('alice may not access "billing"');
  });

  it('exits 2 for usage errors', async () => {
    expect((await alice.hoop(['exec', 'shop', '--format', 'xml', '-i', 'SELECT 1'])).code).toBe(2);
    expect((await alice.hoop(['exec', 'shop', '-i', '   '])).code).toBe(2);
  });
});

describe('hoop exec --review', () => {
  const marker = 4242;
  for (const bad of ['', 'abc def', 'x -c search_path=evil', '0f8e2c1a-5b7d-4e3f-9a6b-1c2d3e4f5a6']) {
    it(`refuses --review ${JSON.stringify(bad)} as a usage error (exit 2), before anything runs`, async () => {
      const r = await alice.hoop(['exec', 'shop', '--review', bad, '-i', `INSERT INTO exec_fixture VALUES (${marker}, 'never', 1, true, NULL)`]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`error: --review ${JSON.stringify(bad)} is not a review id`);
      expect(r.stderr).toContain('hint: the review id printed by the held statement, or from hoop reviews');
      const admin = new pg.Client({ connectionString: stack.shopAdminUrl });
      await admin.connect();
      try {
        expect((await admin.query('SELECT 1 FROM exec_fixture WHERE id = $1', [marker])).rowCount).toBe(0);
      } finally {
        await admin.end();
      }
    });
  }

  it('accepts a review id in upper case: a UUID is one in any case', async () => {
    // No rule here holds SELECT, so the gateway runs it whatever the review; only the validation is under test.
    const r = await alice.hoop(['exec', 'shop', '--review', '0F8E2C1A-5B7D-4E3F-9A6B-1C2D3E4F5A6B', '-i', 'SELECT 1 AS one']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('one\n1\n');
  });
});

describe('hoop exec interrupted', () => {
  /** The exit status a shell shows: the code, or 128 + the signal's number for a process the signal ended. */
  const status = (code: number | null, signal: NodeJS.Signals | null): number => code ?? 128 + (signal ? constants.signals[signal] : 0);

  for (const [signal, expected] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`cancels the running statement at the target on ${signal}, and exits ${expected}`, async () => {
      const admin = new pg.Client({ connectionString: stack.shopAdminUrl });
      await admin.connect();
      const sleeping = async (): Promise<number> => (await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%pg_sleep(30)%'`,
      )).rows[0]!.n;
      const child = spawn(process.execPath, [HOOP_BIN, 'exec', 'shop', '-i', 'SELECT pg_sleep(30)'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...alice.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(status(code, sig))));
      try {
        for (const end = Date.now() + 20_000; (await sleeping()) === 0;) {
          if (Date.now() > end || child.exitCode !== null) throw new Error(`the statement never ran: ${stderr}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        child.kill(signal);
        expect(await exited, stderr).toBe(expected);
        expect(stderr).toBe('');
        for (const end = Date.now() + 5_000; (await sleeping()) > 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
        expect(await sleeping(), 'pg_sleep still runs at the target').toBe(0);
        // Interrupted or not, the job gives its grant back.
        const { grants } = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ issued_at: string; revoked_at: string | null }> };
        expect(grants.sort((a, b) => b.issued_at.localeCompare(a.issued_at))[0]!.revoked_at).toEqual(expect.any(String));
      } finally {
        child.kill('SIGKILL');
        await admin.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()`);
        await admin.end();
      }
    });
  }
});

describe('client credentials (a machine client at the IdP)', () => {
  it('logs in with the secret from the environment, and exec runs as the client', async () => {
    const ci = new User('ci', stack);
    const secret = stack.idp.clientSecrets.get('ci-bot')!;
    const r = await ci.hoop(['login', '--client-credentials', '--client-id', 'ci-bot'], { env: { HOOP_CLIENT_SECRET: secret } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('as ci-bot (client credentials; groups: ci-deployers)');
    const q = await ci.hoop(['exec', 'shop', '-i', 'SELECT 1 AS one']);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout).toBe('one\n1\n');
    expect(JSON.parse((await ci.hoop(['whoami', '--json'])).stdout)).toMatchObject({ subject: 'ci-bot', identity_kind: 'client' });
  });

  it('reads the secret from standard input; a wrong one is refused; there is no flag for it', async () => {
    const ci = new User('ci', stack);
    const secret = stack.idp.clientSecrets.get('ci-bot')!;
    expect((await ci.hoop(['login', '--client-credentials', '--client-id', 'ci-bot'], { input: secret + '\n' })).code).toBe(0);
    const bad = await new User('ci', stack).hoop(['login', '--client-credentials', '--client-id', 'ci-bot'], { input: 'not-the-secret' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).not.toContain('not-the-secret');
    const flag = await ci.hoop(['login', '--client-credentials', '--client-id', 'ci-bot', '--client-secret', 'x']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--client-secret'");
  });

  const UNTIL = /(?:\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}:\d{2}Z/;

  it('hoop logout without the client\'s secret deletes the token and says plainly it stays valid until it expires', async () => {
    const ci = new User('ci', stack);
    const secret = stack.idp.clientSecrets.get('ci-bot')!;
    expect((await ci.hoop(['login', '--client-credentials', '--client-id', 'ci-bot'], { env: { HOOP_CLIENT_SECRET: secret } })).code).toBe(0);
    const token = await ci.accessToken();
    const out = await ci.hoop(['logout']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toBe(''); // no warning: nothing was tried that could fail
    expect(out.stdout).toMatch(new RegExp(
      `^Logged out of ${stack.gatewayUrl.replace(/\./g, '\\.')}: the token of ci-bot is deleted from this machine\\.\n`
      + `Its access token was not revoked \\(that needs the client's secret, in HOOP_CLIENT_SECRET, and --client-id ci-bot\\) `
      + `and stays valid until ${UNTIL.source}\\.\n$`,
    ));
    expect((await ci.hoop(['whoami'])).code).toBe(3);
    // As it says: the token still works until then.
    expect((await ci.hoop(['whoami'], { env: { HOOP_TOKEN: token } })).code).toBe(0);

    // A secret named for another client is not sent as ci-bot's.
    expect((await ci.hoop(['login', '--client-credentials', '--client-id', 'ci-bot'], { env: { HOOP_CLIENT_SECRET: secret } })).code).toBe(0);
    const other = await ci.hoop(['logout'], { env: { HOOP_CLIENT_SECRET: secret, HOOP_CLIENT_ID: 'another-bot' } });
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).toBe('');
    expect(other.stdout).toContain('Its access token was not revoked');
  });

  it('hoop logout with the client\'s secret revokes the token as the client itself', async () => {
    const secret = stack.idp.clientSecrets.get('ci-bot')!;
    for (const how of [{ args: ['--client-id', 'ci-bot'], env: {} }, { args: [], env: { HOOP_CLIENT_ID: 'ci-bot' } }]) {
      const ci = new User('ci', stack);
      expect((await ci.hoop(['login', '--client-credentials', '--client-id', 'ci-bot'], { env: { HOOP_CLIENT_SECRET: secret } })).code).toBe(0);
      const out = await ci.hoop(['logout', ...how.args], { env: { ...how.env, HOOP_CLIENT_SECRET: secret } });
      expect(out.code, out.stderr).toBe(0);
      // The IdP answers invalid_client to a revocation that does not authenticate as ci-bot: there would be a warning.
      expect(out.stderr).toBe('');
      expect(out.stdout).toBe(`Logged out of ${stack.gatewayUrl}: the token of ci-bot is revoked at the identity provider and deleted from this machine.\n`);
      expect(out.stdout + out.stderr).not.toContain(secret);
      expect((await ci.hoop(['whoami'])).code).toBe(3);
    }
  });
});

describe('the grant hoop exec asks for', () => {
  it('lasts 15m by default, or the connection\'s maximum where that is shorter; an explicit --duration is taken as asked', async () => {
    const r = await alice.hoop(['exec', 'brief', '-i', 'SELECT 1 AS ok']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ok\n1\n');
    const { grants } = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ connection: string; issued_at: string; expires_at: string }> };
    const brief = grants.filter((g) => g.connection === 'brief').sort((a, b) => b.issued_at.localeCompare(a.issued_at))[0]!;
    expect((Date.parse(brief.expires_at) - Date.parse(brief.issued_at)) / 1000).toBeCloseTo(600, -1);

    const asked = await alice.hoop(['exec', 'brief', '--duration', '15m', '-i', 'SELECT 1 AS ok']);
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain('a grant for "brief" may last at most 10m; 15m was asked');

    // A CI job exchanging its workload token gets the same default.
    const job = await runner.hoop(['exec', 'brief', '-i', 'SELECT 1 AS ok'], { env: { HOOP_ID_TOKEN: await ci.mint({}) } });
    expect(job.code, job.stderr).toBe(0);
  });
});

describe('workload identity (CI without static secrets)', () => {
  it('exchanges a trusted workload token for a grant, and the session names the job', async () => {
    const token = await ci.mint({ run_id: '777001', workflow: 'nightly-report' });
    const r = await runner.hoop(['exec', 'shop', '--reason', 'nightly report', '-i', 'SELECT count(*) AS n FROM exec_fixture'], { env: { HOOP_ID_TOKEN: token } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('n\n3\n');
    // an auditor sees the job, not a shared account
    interface Listed { subject: string; identity: { kind: string; claims: Record<string, unknown> } | null }
    let found: Listed | undefined;
    for (let i = 0; i < 40 && !found; i++) {
      const list = JSON.parse((await bob.hoop(['sessions', '--json'])).stdout) as { sessions: Listed[] };
      found = list.sessions.find((s) => s.identity?.claims.run_id === '777001');
      if (!found) await new Promise((res) => setTimeout(res, 100));
    }
    expect(found?.subject).toBe('repo:acme/payments:ref:refs/heads/main');
    expect(found?.identity?.kind).toBe('workload');
    expect(found?.identity?.claims).toMatchObject({ repository: 'acme/payments', workflow: 'nightly-report', run_id: '777001', iss: ci.issuer });
  });

  it('refuses a token variable or file that is set but empty (a failed CI step), instead of running as the login on the machine', async () => {
    const empty = join(stack.tmp, 'empty-id-token');
    await writeFile(empty, '\n');
    const cases: [Record<string, string>, string][] = [
      [{ HOOP_TOKEN: '' }, 'error: HOOP_TOKEN is set but empty\n'],
      [{ HOOP_ID_TOKEN: ' ' }, 'error: HOOP_ID_TOKEN is set but empty\n'],
      [{ HOOP_ID_TOKEN_FILE: empty }, `error: HOOP_ID_TOKEN_FILE ${empty} is empty\n`],
    ];
    for (const [env, first] of cases) {
      // alice is logged in here: before, an empty variable was taken as unset and the SQL ran as alice.
      const r = await alice.hoop(['exec', 'shop', '-i', 'SELECT 1 AS ok'], { env });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr.startsWith(first), r.stderr).toBe(true);
    }
    const whoami = await alice.hoop(['whoami'], { env: { HOOP_TOKEN: '' } });
    expect(whoami.code).toBe(3);
    expect(whoami.stderr).toContain('HOOP_TOKEN is set but empty');
  });

  it('reads the token from HOOP_ID_TOKEN_FILE, and accepts a glob-allowed ref', async () => {
    const file = join(stack.tmp, 'id-token');
    await writeFile(file, (await ci.mint({ ref: 'refs/heads/release/2.1' })) + '\n');
    const r = await runner.hoop(['exec', 'shop', '-i', 'SELECT 1 AS ok'], { env: { HOOP_ID_TOKEN_FILE: file } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ok\n1\n');
  });

  const refusals: [string, () => Promise<string>, number, string][] = [
    ['a wrong audience', () => ci.mint({}, { audience: 'someone-else' }), 3, 'workload token is for audience "someone-else", expected "hoop"'],
    ['an expired token', () => ci.mint({}, { expiresIn: -600 }), 3, 'expired'],
    ['an untrusted issuer', async () => {
      const other = await startCiIssuer();
      try { return await other.mint(); } finally { await other.close(); }
    }, 3, 'untrusted issuer'],
    ['a disallowed repository', () => ci.mint({ repository: 'evil/fork' }), 4, 'repository "evil/fork" is not allowed'],
    ['a disallowed ref', () => ci.mint({ ref: 'refs/heads/feature-x' }), 4, 'ref "refs/heads/feature-x" is not allowed'],
    ['a bad signature', () => ci.mint({}, { key: 'other' }), 3, 'signed with a key'],
    ['altered signature bytes', async () => {
      const t = await ci.mint();
      const [h, p, s] = t.split('.');
      return [h, p, (s![0] === 'A' ? 'B' : 'A') + s!.slice(1)].join('.');
    }, 3, 'signature is invalid'],
  ];
  for (const [what, make, code, message] of refusals) {
    it(`refuses ${what} (exit ${code})`, async () => {
      const r = await runner.hoop(['exec', 'shop', '-i', 'SELECT 1'], { env: { HOOP_ID_TOKEN: await make() } });
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    });
  }
});
