/** `hoop sessions`, `hoop sessions show <id>`, `hoop sessions replay <id>`. Times for people as `04:13:44Z`; --json keeps ISO. */
import type { Command } from 'commander';
import { HoopError } from '../../shared/errors.js';
import type { CliContext } from '../services/context.js';
import { ago, table } from '../ui/output.js';
import { clockTime } from '../ui/time.js';
import { parseSince } from '../../shared/duration.js';
import { insecureHttpOption } from '../services/gateway-url.js';

interface ListOptions {
  decision?: string;
  text?: string;
  connection?: string;
  user?: string;
  since?: string;
  limit?: string;
  gateway?: string;
  insecureHttp?: boolean;
  json?: boolean;
}

export function registerSessions(program: Command, ctx: () => CliContext): void {
  const sessions = program
    .command('sessions')
    .description('list recorded sessions (yours; admins and auditors see everyone\'s)')
    .option('--connection <name>', 'only this connection')
    .option('--user <subject>', 'only this user or job')
    .option('--since <when>', 'only sessions started since, e.g. 24h, 7d, or an ISO time')
    .option('--decision <d>', 'only sessions with a blocked, approved, rejected, pending, timeout or masked statement')
    .option('--text <substring>', 'only sessions with a statement containing this text')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .enablePositionalOptions()
    .action(async (opts: ListOptions) => {
      const c = ctx();
      // Checked here, before the gateway is asked, so the hint names every form --since takes.
      if (opts.since !== undefined) parseSince(opts.since, c.now(), '--since');
      const list = await c.gateway(c.gatewayUrl(opts)).sessions({
        ...(opts.connection ? { connection: opts.connection } : {}),
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.since ? { since: opts.since } : {}),
        ...(opts.decision ? { decision: opts.decision } : {}),
        ...(opts.text ? { text: opts.text } : {}),
        ...(opts.limit !== undefined ? { limit: parseLimit(opts.limit) } : {}),
      });
      if (opts.json) return c.out.json({ sessions: list });
      const filtered = opts.connection ?? opts.user ?? opts.since ?? opts.decision ?? opts.text;
      if (list.length === 0) return c.out.print(filtered !== undefined ? 'No sessions match.' : 'No sessions recorded yet.');
      const now = c.now();
      c.out.print(table(
        ['ID', 'USER', 'CONNECTION', 'CLIENT', 'STARTED', 'STATUS', 'STATEMENTS'],
        list.map((s) => [
          s.id,
          s.subject,
          s.connection,
          s.client_application ?? '',
          ago(s.started_at, now),
          s.ended_at ? 'ended' : 'live',
          String(s.statement_count),
        ]),
      ));
    });

  sessions
    .command('show')
    .description('show one session and its statements')
    .argument('<id>', 'the session id (from `hoop sessions`)')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const d = await c.gateway(c.gatewayUrl(opts)).session(id);
      if (opts.json) return c.out.json(d);
      const s = d.session;
      const now = c.now();
      c.out.print(`Session ${s.id}`);
      c.out.print(`  user:        ${s.subject}`);
      c.out.print(`  connection:  ${s.connection}`);
      c.out.print(`  grant:       ${s.grant_id ?? '-'}`);
      c.out.print(`  client:      ${s.client_application ?? '-'}${s.client_user ? ` (as ${s.client_user})` : ''}`);
      c.out.print(`  started:     ${clockTime(s.started_at, now)}`);
      c.out.print(`  ended:       ${s.ended_at ? clockTime(s.ended_at, now) : 'still live'}${s.end_reason ? ` (${s.end_reason})` : ''}`);
      c.out.print(`  bytes:       ${s.bytes_from_client} in, ${s.bytes_to_client} out`);
      c.out.print('');
      if (d.statements.length === 0) return c.out.print('No statements.');
      c.out.print(table(
        ['#', 'TIME', 'MS', 'ROWS', 'RESULT', 'STATEMENT'],
        d.statements.map((st) => [
          String(st.seq),
          clockTime(st.started_at, now),
          st.duration_ms === null ? '' : st.duration_ms.toFixed(1),
          st.rows === null ? '' : String(st.rows),
          st.error_code ? `ERROR ${st.error_code}` : (st.command_tag ?? ''),
          oneLine(st.text) + (st.parameters?.length ? `  -- params: ${JSON.stringify(st.parameters)}` : '') + (st.error_message ? `  -- ${st.error_message}` : ''),
        ]),
      ));
    });

  registerReplay(sessions, ctx);
}

export function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 120 ? s.slice(0, 117) + '…' : s;
}

interface ResultPayload { columns: string[]; rows: (string | null)[][] }

function parseLimit(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new HoopError('usage', `--limit ${v} is not a whole number from 1 to 1000`, { hint: 'the default is 50' });
  return n;
}

function parseRows(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new HoopError('usage', `--rows ${v} is not a number of rows`, { hint: 'use 0 or more (0 shows none)' });
  return n;
}

/** A replay event with at most `limit` of its returned rows (row_count still says how many there were). */
function limitPayloadRows<E extends { payload?: unknown }>(e: E, limit: number): E {
  const p = e.payload as ResultPayload | undefined;
  if (!p || !Array.isArray(p.rows) || p.rows.length <= limit) return e;
  return { ...e, payload: { ...p, rows: p.rows.slice(0, limit) } };
}

/**
 * The events with each statement's result right after the statement. The chain holds them in the order they
 * were recorded, and a result can come after the next statement (a blocked statement's is written with the
 * statement the client sends next): matched by the statement's number in the session (`data.seq`).
 */
export function inStatementOrder<E extends { type: string; data: Record<string, unknown> }>(events: readonly E[]): E[] {
  // A statement held for review is recorded again when it is decided: its result goes after the last record.
  const lastRecord = new Map<unknown, E>();
  for (const e of events) if (e.type === 'statement') lastRecord.set(e.data.seq, e);
  const resultsAfter = new Map<E, E[]>();
  const moved = new Set<E>();
  for (const e of events) {
    const statement = e.type === 'statement.result' ? lastRecord.get(e.data.seq) : undefined;
    if (!statement) continue;
    resultsAfter.set(statement, [...(resultsAfter.get(statement) ?? []), e]);
    moved.add(e);
  }
  const out: E[] = [];
  for (const e of events) {
    if (moved.has(e)) continue;
    out.push(e, ...(resultsAfter.get(e) ?? []));
  }
  return out;
}

/** `hoop sessions replay <id>`: the session on a timeline, with what each statement returned. */
export function registerReplay(sessions: Command, ctx: () => CliContext): void {
  sessions
    .command('replay')
    .description('replay a session: each statement with its time offset, decision, approver, masked columns and returned rows')
    .argument('<id>', 'the session id')
    .option('--rows <n>', 'returned rows to show per statement (default 10; with --json, all unless given)')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON (the same data)')
    .action(async (id: string, opts: { rows?: string; gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const limit = opts.rows === undefined ? undefined : parseRows(opts.rows);
      const r = await c.gateway(c.gatewayUrl(opts)).replay(id);
      if (opts.json) return c.out.json(limit === undefined ? r : { ...r, events: r.events.map((e) => limitPayloadRows(e, limit)) });
      const s = r.session;
      const t0 = new Date(s.started_at).getTime();
      const off = (iso: string): string => `+${((new Date(iso).getTime() - t0) / 1000).toFixed(3)}s`.padEnd(10);
      c.out.print(`Session ${s.id}: ${s.subject} on ${s.connection}${s.client_application ? ` (${s.client_application})` : ''}, started ${clockTime(s.started_at, c.now())}`);
      const shownRows = limit ?? 10;
      for (const e of inStatementOrder(r.events)) {
        const d = e.data as Record<string, unknown>;
        switch (e.type) {
          case 'session.opened':
            c.out.print(`${off(e.time)}session opened (grant ${String(d.grant_id ?? '-')})`);
            break;
          case 'statement': {
            const details = (d.details ?? {}) as { rule?: string; review_id?: string; message?: string };
            const decision = String(d.decision);
            const tag = decision === 'allow' ? 'ran' : decision === 'approved'
              ? `approved by ${(e.approvers ?? []).join(', ') || '?'}` : decision.toUpperCase();
            c.out.print(`${off(e.time)}[${tag}] ${oneLine(String(d.text))}${Array.isArray(d.parameters) && d.parameters.length ? `  -- params ${JSON.stringify(d.parameters)}` : ''}`);
            if (details.rule && decision !== 'allow') c.out.print(`${' '.repeat(10)}rule ${details.rule}${details.review_id ? `, review ${details.review_id}` : ''}${details.message && decision !== 'approved' ? ` — ${details.message}` : ''}`);
            break;
          }
          case 'statement.result': {
            const masking = d.masking as Record<string, { rule: string; values: number }> | undefined;
            const returned = d.returned as { row_count: number; truncated: boolean } | undefined;
            const outcome = d.error_code ? `ERROR ${String(d.error_code)}: ${String(d.error_message)}` : `${String(d.command_tag ?? '')}${d.duration_ms !== null ? ` in ${Number(d.duration_ms).toFixed(1)} ms` : ''}`;
            c.out.print(`${' '.repeat(10)}→ ${outcome}${masking ? ` · masked: ${Object.entries(masking).map(([col, m]) => `${col} (${m.rule}, ${m.values})`).join(', ')}` : ''}`);
            const p = e.payload as ResultPayload | undefined;
            if (p?.rows.length && shownRows) {
              const shown = p.rows.slice(0, shownRows).map((row) => row.map((v) => (v === null ? 'NULL' : v)));
              for (const line of table(p.columns, shown).split('\n')) c.out.print(`${' '.repeat(12)}${line}`);
              const more = (returned?.row_count ?? p.rows.length) - shown.length;
              if (more > 0) c.out.print(`${' '.repeat(12)}… ${more} more row${more === 1 ? '' : 's'}${returned?.truncated ? ' (kept: ' + p.rows.length + ')' : ''}`);
            } else if (returned && !p) {
              c.out.print(`${' '.repeat(12)}(${returned.row_count} rows; returned data no longer kept — retention)`);
            }
            break;
          }
          case 'session.closed':
            c.out.print(`${off(e.time)}session closed: ${String(d.reason)}`);
            break;
          default:
            c.out.print(`${off(e.time)}${e.type}`);
        }
      }
    });
}
