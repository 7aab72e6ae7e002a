/** `hoop sessions`, `hoop sessions show <id>`. */
import type { Command } from 'commander';
import type { CliContext } from '../services/context.js';
import { ago, table } from '../ui/output.js';

interface ListOptions {
  connection?: string;
  user?: string;
  since?: string;
  limit?: string;
  gateway?: string;
  json?: boolean;
}

export function registerSessions(program: Command, ctx: () => CliContext): void {
  const sessions = program
    .command('sessions')
    .description('list recorded sessions (yours; admins and auditors see everyone\'s)')
    .option('--connection <name>', 'only this connection')
    .option('--user <subject>', 'only this user or job')
    .option('--since <when>', 'only sessions started since, e.g. 24h, 7d, or an ISO time')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--gateway <url>', 'the gateway URL')
    .option('--json', 'print JSON')
    .enablePositionalOptions()
    .action(async (opts: ListOptions) => {
      const c = ctx();
      const list = await c.gateway(c.gatewayUrl(opts.gateway)).sessions({
        ...(opts.connection ? { connection: opts.connection } : {}),
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.since ? { since: opts.since } : {}),
        ...(opts.limit ? { limit: Number(opts.limit) } : {}),
      });
      if (opts.json) return c.out.json({ sessions: list });
      if (list.length === 0) return c.out.print('No sessions recorded yet.');
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
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { gateway?: string; json?: boolean }) => {
      const c = ctx();
      const d = await c.gateway(c.gatewayUrl(opts.gateway)).session(id);
      if (opts.json) return c.out.json(d);
      const s = d.session;
      c.out.print(`Session ${s.id}`);
      c.out.print(`  user:        ${s.subject}`);
      c.out.print(`  connection:  ${s.connection}`);
      c.out.print(`  grant:       ${s.grant_id ?? '-'}`);
      c.out.print(`  client:      ${s.client_application ?? '-'}${s.client_user ? ` (as ${s.client_user})` : ''}`);
      c.out.print(`  started:     ${s.started_at}`);
      c.out.print(`  ended:       ${s.ended_at ?? 'still live'}${s.end_reason ? ` (${s.end_reason})` : ''}`);
      c.out.print(`  bytes:       ${s.bytes_from_client} in, ${s.bytes_to_client} out`);
      c.out.print('');
      if (d.statements.length === 0) return c.out.print('No statements.');
      c.out.print(table(
        ['#', 'TIME', 'MS', 'ROWS', 'RESULT', 'STATEMENT'],
        d.statements.map((st) => [
          String(st.seq),
          st.started_at.slice(11, 23),
          st.duration_ms === null ? '' : st.duration_ms.toFixed(1),
          st.rows === null ? '' : String(st.rows),
          st.error_code ? `ERROR ${st.error_code}` : (st.command_tag ?? ''),
          oneLine(st.text) + (st.parameters?.length ? `  -- params: ${JSON.stringify(st.parameters)}` : '') + (st.error_message ? `  -- ${st.error_message}` : ''),
        ]),
      ));
    });
}

function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 120 ? s.slice(0, 117) + '…' : s;
}
