/**
 * The `hoop` CLI. bin/hoop sends `hoop gateway …`/`hoop demo` to gateway/main.ts and `hoop agent …` to
 * agent/main.ts; everything else lands here. Errors are mapped to exit codes once, at the end.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor, HoopError, toHoopError } from '../shared/errors.js';
import { CLI_VERSION, CliContext, type CliEnv } from './services/context.js';
import { createOutput } from './ui/output.js';
import { dropOutputOnBrokenPipe } from '../shared/broken-pipe.js';
import { registerLogin } from './commands/login.js';
import { registerConnect } from './commands/connect.js';
import { registerSessions } from './commands/sessions.js';
import { registerGrants } from './commands/grants.js';
import { registerExec } from './commands/exec.js';
import { registerReviews } from './commands/reviews.js';
import { registerAudit } from './commands/audit.js';

export async function main(argv: string[], env: CliEnv): Promise<number> {
  dropOutputOnBrokenPipe();
  const out = createOutput({ stdout: process.stdout, stderr: process.stderr, noColor: env.NO_COLOR !== undefined });
  let context: CliContext | undefined;
  const ctx = (): CliContext => (context ??= new CliContext(env, out));

  const program = new Command('hoop')
    .version(CLI_VERSION)
    .description('hoop: just-in-time access to production data, with no static credentials')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Environment:
  HOOP_GATEWAY_URL    gateway URL (else the one saved by \`hoop login --gateway\`, else http://127.0.0.1:8009);
                      https://, or http:// only to this machine (localhost, 127.x.x.x, [::1])
  HOOP_INSECURE_HTTP  1 to accept a plain http:// gateway URL on another host, like --insecure-http: your tokens
                      then travel unencrypted
  HOOP_TOKEN          an access token from your identity provider (CI; skips the stored login)
  HOOP_ID_TOKEN       a CI workload OIDC token that \`hoop exec\` exchanges for a grant (or HOOP_ID_TOKEN_FILE)
  HOOP_CLIENT_ID, HOOP_CLIENT_SECRET
                      for \`hoop login --client-credentials\` (and \`hoop logout\` to revoke its token)
  HOOP_CONFIG_DIR     where settings, the agent socket and the token fallback file live (default ~/.config/hoop)
  HOOP_LOG_LEVEL      the agent's and the gateway's log level (trace, debug, info, warn, error)
  NO_COLOR            disable colour

Exit codes: 0 ok, 1 error, 2 usage, 3 login needed, 4 access denied, 5 blocked, 6 approval pending,
            7 approval rejected, 8 statement failed, 9 gateway or identity provider unreachable,
            130 interrupted (143 on SIGTERM)

Start here: hoop login, then hoop connect <connection>.`);

  // An empty name or id ("" from an unset shell variable) is a usage error naming the argument, not a request
  // for `/v1/grants//revoke` or a connection called "".
  program.hook('preAction', (_root, action) => {
    action.registeredArguments.forEach((arg, i) => {
      const v = action.processedArgs[i] as unknown;
      if (typeof v === 'string' && v.trim() === '') {
        const path: string[] = [];
        for (let cmd: Command | null = action; cmd?.parent; cmd = cmd.parent) path.unshift(cmd.name());
        throw new HoopError('usage', `<${arg.name()}> is empty`, { hint: `see \`hoop ${path.join(' ')} --help\`` });
      }
    });
  });

  registerLogin(program, ctx);
  registerConnect(program, ctx);
  registerSessions(program, ctx);
  registerGrants(program, ctx);
  registerExec(program, ctx);
  registerReviews(program, ctx);
  registerAudit(program, ctx);
  // Served by the other programs through bin/hoop; listed here so `hoop --help` shows them.
  program.command('agent').description('control the local agent: hoop agent start | stop | status');
  program.command('gateway').description('run the gateway (hoop gateway start --config FILE), or check its set-up first (hoop gateway check)');
  program.command('demo').description('run the demo: gateway, dev identity provider and PostgreSQL on this machine');

  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    const err = toHoopError(e);
    out.error(`error: ${err.message}`);
    // With HOOP_TOKEN set, logging in again changes nothing: the token is what was refused.
    const hint = env.HOOP_TOKEN && (err.code === 'token_invalid' || err.code === 'login_required')
      ? 'the token in HOOP_TOKEN was refused: get a fresh access token from your identity provider (while HOOP_TOKEN is set, the stored login is not used)'
      : err.hint;
    if (hint) out.error(`hint: ${hint}`);
    if (err.code === 'internal' && e instanceof Error && e.stack && env.HOOP_DEBUG) out.error(e.stack);
    return exitCodeFor(err.code);
  }
}
