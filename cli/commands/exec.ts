/**
 * `hoop exec`: runs SQL for CI and scripts through the same gateway engine as everyone else, over an
 * in-process ephemeral tunnel with a built-in PostgreSQL client. No static secret: the grant comes from a
 * workload id_token (HOOP_ID_TOKEN[_FILE]), an access token (HOOP_TOKEN) or the stored login.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
// pg, pg-copy-streams, the SQL splitter (libpg-query) and the tunnel (ws) load only when `hoop exec` runs:
// every other command, `--help` included, starts without them.
import type pg from 'pg';
import { ERROR_CODES, HoopError, isHoopError, type ErrorCode } from '../../shared/errors.js';
import { parseDuration } from '../../shared/duration.js';
import { tokenFromEnv } from '../../shared/auth/session.js';
import type { Grant } from '../../shared/api/schemas.js';
import { cancelStatement, type BackendKey } from '../services/cancel-request.js';
import { CLI_VERSION, type CliContext } from '../services/context.js';
import { giveBackGrant, obtainGrant } from '../services/grants.js';
import { trapSignals } from '../services/signal-trap.js';
import { formatResult, type Cell, type ResultFormat, type StatementResult } from '../ui/results.js';
import { drainedOrClosed } from '../../shared/net/drained.js';
import { insecureHttpOption } from '../services/gateway-url.js';

interface ExecOptions {
  input?: string;
  file?: string;
  format?: string;
  reason?: string;
  wait?: string;
  review?: string;
  duration?: string;
  gateway?: string;
  insecureHttp?: boolean;
}

/** How long Ctrl-C or SIGTERM waits for the running statement to be cancelled before ending anyway. */
const CANCEL_WAIT_MS = 2000;

/** Type parsers for output that means the same on every machine: numbers, booleans and JSON typed; the rest as the server's text. */
const TYPES = {
  getTypeParser: (oid: number) => {
    switch (oid) {
      case 16: return (v: string) => v === 't';
      case 21: case 23: case 26: case 700: case 701: return (v: string) => Number(v);
      case 114: case 3802: return (v: string) => JSON.parse(v) as unknown;
      default: return (v: string) => v;
    }
  },
};

export function registerExec(program: Command, ctx: () => CliContext): void {
  program
    .command('exec')
    .description('run SQL through the gateway for CI and scripts: every policy applies, every statement is recorded')
    .argument('<connection>', 'the connection name')
    .option('-i, --input <sql>', 'the SQL to run (else -f FILE, else standard input)')
    .option('-f, --file <path>', 'read the SQL from a file')
    .option('--format <format>', 'table | csv | json (default: table on a terminal, csv otherwise)')
    .option('--reason <text>', 'why; recorded with the grant')
    .option('--wait <duration>', 'wait this long for a statement review to be decided (e.g. 10m); without it a held statement exits 6 with its review id')
    .option('--review <id>', 'run the statement an approver approved in this review (exactly as approved); a review id is a UUID')
    .option('--duration <d>', 'grant length (default 15m, or the connection\'s maximum if shorter)')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .addHelpText('after', `
COPY … TO STDOUT writes its data to stdout as COPY formats it (not with --format json), and "COPY n" to stderr.
COPY … FROM STDIN is refused: use psql through \`hoop connect\`.

Credentials, first found wins (never on the command line):
  HOOP_ID_TOKEN / HOOP_ID_TOKEN_FILE  a workload OIDC token (GitHub Actions, GitLab), exchanged for a grant
  HOOP_TOKEN                          an access token from your identity provider
  the login stored by \`hoop login\`

Several statements run in order; the first failure stops the run. With --format json each statement prints
one JSON object per line: statement, command, row_count, columns, rows. Ctrl-C or SIGTERM cancels the running
statement at the target, as psql does, then exits 130 or 143.

Exit codes: 0 ok, 1 error, 2 usage, 3 login needed, 4 access denied, 5 blocked by a guardrail,
            6 approval pending or timed out, 7 approval rejected, 8 the statement failed at the target,
            9 gateway or identity provider unreachable, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Examples:
  hoop exec shop -i "SELECT count(*) FROM orders"
  hoop exec shop -f migrate.sql --reason "release 1.4" --format json
  echo "DELETE FROM orders WHERE id = 7" | hoop exec shop --wait 15m`)
    .action(async (connection: string, opts: ExecOptions) => {
      const c = ctx();
      const format = resultFormat(opts.format, process.stdout.isTTY === true);
      const reviewId = opts.review === undefined ? undefined : reviewIdOption(opts.review);
      const sql = await readInput(opts);
      const [{ splitStatements }, { default: pgModule }] = await Promise.all([import('../../shared/sql/split.js'), import('pg')]);
      const statements = await splitStatements(sql);
      if (statements.length === 0) throw new HoopError('usage', 'no SQL to run', { hint: 'pass -i SQL, -f FILE, or pipe SQL on standard input' });
      // Refused before anything runs, so a script is not left half done.
      for (const statement of statements) checkCopy(copyKind(statement), format);
      const waitMs = opts.wait === undefined ? 0 : parseDuration(opts.wait, '--wait');
      const gatewayUrl = c.gatewayUrl(opts);
      const grant = await grantFor(c, gatewayUrl, connection, opts);
      const { openEphemeralTunnel } = await import('../services/ephemeral-tunnel.js');
      const tunnel = await openEphemeralTunnel({ gatewayUrl, connection, token: grant.token, userAgent: `hoop-cli/${CLI_VERSION}` });
      const client = new pgModule.Client({
        host: '127.0.0.1',
        port: tunnel.port,
        user: grant.subject.slice(0, 63),
        database: connection,
        application_name: 'hoop exec',
        // Read by the gateway, never forwarded: how long to wait for a review, and which approved review to run.
        options: [`-c hoop.approval_wait_ms=${waitMs}`, ...(reviewId ? [`-c hoop.review=${reviewId}`] : [])].join(' '),
        types: TYPES,
        keepAlive: true,
      });
      client.on('notice', (n) => c.out.info(`${n.severity ?? 'NOTICE'}: ${n.message ?? ''}`));
      // An error while no query runs (the session ended by a revocation, say) is reported by the next query, or
      // not at all once the run is over: unheard, node-postgres would throw it out of the event loop.
      client.on('error', () => undefined);
      // Ctrl-C or SIGTERM cancels the statement at the target first, as psql does: ending the process alone
      // leaves it running there. Then the process ends by the signal, as it would have.
      let running: Promise<unknown> | null = null;
      // The job is done with its grant: it is given back, so it does not stay live for the rest of its length,
      // whether the run ends or is interrupted. (A grant from a workload token exchange has no user token to
      // revoke it with; it is short anyway.)
      let given = false;
      const giveBack = async (): Promise<void> => {
        if (given || workloadToken(c)) return;
        given = true;
        await giveBackGrant(c, gatewayUrl, grant.id);
      };
      const trap = trapSignals(async () => {
        const key = backendKey(client);
        if (running !== null && key !== null) {
          const ended = await cancelStatement({ host: '127.0.0.1', port: tunnel.port, key, statement: running, timeoutMs: CANCEL_WAIT_MS });
          if (!ended) c.out.warn('the statement may still be running at the target: its cancel was not confirmed in time');
        }
        // Closed before the grant goes: its revocation would otherwise end the session with a FATAL.
        await client.end().catch(() => undefined);
        await giveBack();
      });
      /** Runs one statement; once a signal came, none starts, and the error of the one it cancelled is not reported. */
      const run = async <T>(start: () => Promise<T>): Promise<T> => {
        await trap.unlessSignalled();
        const statement = start();
        running = statement;
        try {
          return await statement;
        } catch (e) {
          await trap.unlessSignalled();
          throw e;
        } finally {
          running = null;
        }
      };
      try {
        await client.connect().catch((e: unknown) => {
          throw fromPgError(e, 'connect');
        });
        for (const statement of statements) {
          if (copyKind(statement) === 'out') {
            const rows = await run(() => copyOut(client, statement, c.out.stream));
            c.out.info(`COPY ${rows}`);
            continue;
          }
          const res = await run(() => client.query<Cell[]>({ text: statement, rowMode: 'array' })).catch((e: unknown) => {
            throw fromPgError(e, 'statement');
          });
          const result: StatementResult = {
            statement,
            command: res.command ?? '',
            row_count: res.rowCount,
            columns: (res.fields ?? []).map((f) => f.name),
            rows: res.rows ?? [],
          };
          const out = formatResult(result, format);
          if (out !== null) c.out.data(out); // the rows as the database returned them
          if (format !== 'json' && result.columns.length === 0) c.out.info(commandTag(result));
        }
      } finally {
        trap.release();
        await client.end().catch(() => undefined);
        await tunnel.close();
        await giveBack();
      }
    });
}

function workloadToken(c: CliContext): boolean {
  return Boolean(c.env.HOOP_ID_TOKEN ?? c.env.HOOP_ID_TOKEN_FILE);
}

/**
 * Whether a statement is a COPY that streams data through the client: `out` for COPY … TO STDOUT, `in` for
 * COPY … FROM STDIN, else null (COPY to or from a server file runs like any statement). Read from the text:
 * leading comments skipped, the first word must be COPY, then TO STDOUT (or else FROM STDIN) anywhere after it.
 */
export function copyKind(statement: string): 'out' | 'in' | null {
  const text = statement.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/, '');
  if (!/^copy\b/i.test(text)) return null;
  if (/\bto\s+stdout\b/i.test(text)) return 'out';
  if (/\bfrom\s+stdin\b/i.test(text)) return 'in';
  return null;
}

/** The COPY statements exec cannot run: FROM STDIN (it has no data to send), and TO STDOUT with --format json. */
function checkCopy(kind: 'out' | 'in' | null, format: ResultFormat): void {
  if (kind === 'in') {
    throw new HoopError('usage', 'hoop exec cannot send data for COPY … FROM STDIN', {
      hint: 'use psql through `hoop connect` (\\copy), or INSERT the rows',
    });
  }
  if (kind === 'out' && format === 'json') {
    throw new HoopError('usage', 'COPY … TO STDOUT writes rows in its own format, which --format json cannot hold', {
      hint: 'run it with --format csv (or table): its data goes to stdout as COPY wrote it',
    });
  }
}

/** Runs a COPY … TO STDOUT, writing its data to `out` as it arrives; resolves with the rows copied. */
async function copyOut(client: pg.Client, statement: string, out: NodeJS.WritableStream): Promise<number> {
  const { to: copyTo } = await import('pg-copy-streams');
  const stream = client.query(copyTo(statement));
  try {
    for await (const chunk of stream) {
      if (!out.write(chunk as Buffer)) await drainedOrClosed(out);
    }
  } catch (e) {
    throw fromPgError(e, 'statement');
  }
  return stream.rowCount;
}

/** A review id is a UUID; anything else would also be pasted into the startup options (`-c hoop.review=…`). */
const REVIEW_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function reviewIdOption(v: string): string {
  if (REVIEW_ID.test(v)) return v.toLowerCase();
  throw new HoopError('usage', `--review ${JSON.stringify(v)} is not a review id`, {
    hint: 'the review id printed by the held statement, or from hoop reviews',
  });
}

/** The backend key node-postgres keeps from BackendKeyData (not in its types), or null before it came. */
function backendKey(client: pg.Client): BackendKey | null {
  const k = client as unknown as { processID?: unknown; secretKey?: unknown };
  return typeof k.processID === 'number' && typeof k.secretKey === 'number' ? { processId: k.processID, secretKey: k.secretKey } : null;
}

function resultFormat(v: string | undefined, tty: boolean): ResultFormat {
  if (v === undefined) return tty ? 'table' : 'csv';
  if (v === 'table' || v === 'csv' || v === 'json') return v;
  throw new HoopError('usage', `--format ${v} is not one of table, csv, json`);
}

async function readInput(o: ExecOptions): Promise<string> {
  if (o.input !== undefined && o.file !== undefined) throw new HoopError('usage', 'pass either -i or -f, not both');
  if (o.input !== undefined) return o.input;
  if (o.file !== undefined) {
    return readFile(o.file, 'utf8').catch((e: unknown) => {
      throw new HoopError('usage', `cannot read ${o.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    });
  }
  if (process.stdin.isTTY) throw new HoopError('usage', 'no SQL given', { hint: 'pass -i SQL, -f FILE, or pipe SQL on standard input' });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A grant from the best credential present: a workload id_token, else an access token or the stored login. */
async function grantFor(c: CliContext, gatewayUrl: string, connection: string, o: ExecOptions): Promise<Grant & { token: string }> {
  if (o.duration !== undefined) return grantLasting(c, gatewayUrl, connection, o, o.duration);
  // The default: 15 minutes, or the connection's maximum where that is shorter (the gateway's refusal names it).
  // An explicit --duration is taken exactly as asked.
  try {
    return await grantLasting(c, gatewayUrl, connection, o, DEFAULT_DURATION);
  } catch (e) {
    const max = isHoopError(e) && e.code === 'usage' ? e.details?.max_duration_seconds : undefined;
    if (typeof max !== 'number' || !Number.isInteger(max) || max <= 0 || max >= DEFAULT_DURATION_S) throw e;
    return grantLasting(c, gatewayUrl, connection, o, `${max}s`);
  }
}

const DEFAULT_DURATION = '15m';
const DEFAULT_DURATION_S = 15 * 60;

async function grantLasting(c: CliContext, gatewayUrl: string, connection: string, o: ExecOptions, duration: string): Promise<Grant & { token: string }> {
  const req = { connection, duration, ...(o.reason ? { reason: o.reason } : {}) };
  // Set but empty (variable or file) is refused, not skipped: the job would otherwise run on another credential.
  const idToken = c.env.HOOP_ID_TOKEN !== undefined
    ? tokenFromEnv('HOOP_ID_TOKEN', c.env.HOOP_ID_TOKEN)
    : c.env.HOOP_ID_TOKEN_FILE !== undefined
      ? await readIdTokenFile(c.env.HOOP_ID_TOKEN_FILE)
      : undefined;
  if (idToken !== undefined) return c.gateway(gatewayUrl, { auth: false }).exchangeToken({ subjectToken: idToken, ...req });
  // A job waits for a just-in-time access approval only when it asked to (--wait); else exit 6 with the review id.
  return obtainGrant(c, gatewayUrl, req, { wait: o.wait !== undefined, ...(o.wait ? { waitMs: parseDuration(o.wait, '--wait') } : {}) });
}

async function readIdTokenFile(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch((e: unknown) => {
    throw new HoopError('login_required', `cannot read HOOP_ID_TOKEN_FILE ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  });
  const token = text.trim();
  if (token === '') {
    throw new HoopError('token_invalid', `HOOP_ID_TOKEN_FILE ${path} is empty`, { hint: 'the step that should have written the CI job\'s id_token there failed' });
  }
  return token;
}

/**
 * Maps a PostgreSQL error to hoop's codes: errors the gateway made carry `routine` = `hoop_<code>`; anything
 * else came from the target (exit 8), or, while connecting, means the tunnel was refused.
 */
function fromPgError(e: unknown, phase: 'connect' | 'statement'): HoopError {
  const err = e as { message?: string; code?: string; routine?: string; hint?: string; detail?: string };
  const hoopCode = err.routine?.startsWith('hoop_') ? err.routine.slice(5) : undefined;
  const opts = { cause: e, ...(err.hint ? { hint: err.hint } : {}), details: { sqlstate: err.code } };
  if (hoopCode && (ERROR_CODES as readonly string[]).includes(hoopCode)) return new HoopError(hoopCode as ErrorCode, err.message ?? hoopCode, opts);
  if (phase === 'connect') {
    if (err.code === '28000') return new HoopError('access_denied', err.message ?? 'the gateway refused the grant', opts);
    return new HoopError('gateway_unreachable', `cannot open the tunnel: ${err.message ?? 'connection failed'}`, opts);
  }
  const sqlstate = err.code ? ` (SQLSTATE ${err.code})` : '';
  return new HoopError('statement_failed', `${err.message ?? 'the statement failed'}${sqlstate}`, opts);
}

function commandTag(r: StatementResult): string {
  if (r.row_count === null) return r.command;
  return ['INSERT'].includes(r.command) ? `${r.command} 0 ${r.row_count}` : `${r.command} ${r.row_count}`;
}
