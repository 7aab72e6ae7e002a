/** `hoop gateway start`, `hoop gateway check` and `hoop demo`: the gateway program's entry point. */
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor, HoopError, toHoopError } from '../shared/errors.js';
import { createLogger, parseLogLevel, type Logger } from '../shared/log.js';
import { loadGatewayConfig, printConfig } from './config/load.js';
import type { GatewayConfig } from './config/schema.js';
import { startGateway } from './gateway.js';
import { startDemo, walkthrough } from './demo/demo.js';
import { listenForShutdown, loggedNotices, textNotices } from './shutdown.js';
import { runPreflight } from './check/preflight.js';
import { formatChecks } from './check/report.js';

type Env = Readonly<Record<string, string | undefined>>;

/** `hoop gateway check`'s exit code when a check fails (docs/cli.md). */
const CHECKS_FAILED = EXIT.error;

export async function main(argv: string[], env: Env): Promise<number> {
  const program = new Command('hoop').exitOverride().configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
  });
  let stop: (() => Promise<void>) | undefined;
  let exitCode: number = EXIT.ok;
  // `hoop gateway …` writes JSON lines (a daemon's logs, for a collector); the configured level replaces this one
  // once the configuration is loaded. `hoop demo` is for a person: its notices are plain lines.
  let logger: Logger = createLogger({ level: parseLogLevel(env.HOOP_LOG_LEVEL, 'info'), format: 'json' });
  let daemon = false;
  const shutdown = listenForShutdown(argv[0] === 'gateway' ? loggedNotices(() => logger) : textNotices((s) => process.stderr.write(s)));

  const gateway = program.command('gateway').description('the central gateway');
  gateway
    .command('start')
    .description('run the gateway in the foreground (logs are JSON lines on stderr)')
    .option('--config <file>', 'the YAML configuration file (see docs/configuration.md)', env.HOOP_CONFIG_FILE)
    .option('--listen <host:port>', 'listen address (overrides the file and HOOP_LISTEN)')
    .option('--print-config', 'print the effective configuration, secrets redacted, and exit')
    .action(async (opts: StartOptions & { printConfig?: boolean }) => {
      daemon = opts.printConfig !== true;
      const config = loadStartConfig(opts, env);
      if (opts.printConfig) {
        process.stdout.write(printConfig(config));
        return;
      }
      logger = createLogger({ level: parseLogLevel(env.HOOP_LOG_LEVEL, config.log.level), format: 'json' });
      const gw = await startGateway({ config, logger, env });
      stop = gw.close;
    });

  gateway
    .command('check')
    .description('check, before a start, what `hoop gateway start` needs: config, TLS, database, master key, identity providers, targets')
    .option('--config <file>', 'the YAML configuration file, as for `hoop gateway start`', env.HOOP_CONFIG_FILE)
    .option('--listen <host:port>', 'the listen address, as for `hoop gateway start`')
    .option('--json', 'print the results as a JSON array of {check, ok, detail}')
    .addHelpText('after', '\nExit status: 0 when every check passes, 1 when any fails, 2 for a bad flag.')
    .action(async (opts: StartOptions & { json?: boolean }) => {
      shutdown.dispose(); // nothing to shut down gracefully: Ctrl-C stops a check at once
      const results = await runPreflight({
        loadConfig: () => loadStartConfig(opts, env),
        source: opts.config ?? 'no file, only defaults and environment',
        env,
        logger: createLogger({ level: parseLogLevel(env.HOOP_LOG_LEVEL, 'error'), format: 'text' }),
      });
      process.stdout.write(formatChecks(results, opts.json === true));
      if (results.some((r) => !r.ok)) exitCode = CHECKS_FAILED;
    });

  program
    .command('demo')
    .description('run the demo: embedded PostgreSQL with a shop database, the dev identity provider, and the gateway')
    .option('--port <n>', 'gateway port', '8009')
    .option('--idp-port <n>', 'dev identity provider port', '8010')
    .option('--data-dir <dir>', 'where the demo keeps its database (default ~/.local/share/hoop/demo, or HOOP_DEMO_DIR)')
    .action(async (opts: { port: string; idpPort: string; dataDir?: string }) => {
      const logger = createLogger({ level: parseLogLevel(env.HOOP_LOG_LEVEL, 'warn'), format: 'text' });
      const demo = await startDemo({
        logger,
        env,
        print: (l) => process.stdout.write(l + '\n'),
        // Checked before anything starts (the embedded PostgreSQL takes a while).
        gatewayPort: demoPort('--port', opts.port),
        idpPort: demoPort('--idp-port', opts.idpPort),
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      });
      process.stdout.write(walkthrough(demo.gateway.url, demo.issuer, demo.ciClientSecret));
      stop = demo.close;
    });

  // A closed terminal (SIGHUP) makes every write to it fail (EIO). Unheard, that error would crash the process
  // in the middle of its graceful shutdown, before the final checkpoint; there is nobody left to tell anyway.
  for (const out of [process.stdout, process.stderr]) out.on('error', () => undefined);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    shutdown.dispose();
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return report(e, daemon ? logger : undefined);
  }
  if (!stop) {
    shutdown.dispose();
    return exitCode;
  }
  await shutdown.requested;
  await stop();
  shutdown.stopped();
  return EXIT.ok;
}

interface StartOptions {
  config?: string;
  listen?: string;
}

/** The configuration as `hoop gateway start` loads it: --config (or HOOP_CONFIG_FILE), HOOP_* variables, --listen. */
function loadStartConfig(opts: StartOptions, env: Env): GatewayConfig {
  return loadGatewayConfig({
    env,
    ...(opts.config ? { file: opts.config } : {}),
    ...(opts.listen ? { overrides: { listen: opts.listen } } : {}),
  });
}

/** A failure as its exit code: logged as JSON by the running gateway, else `error:` and `hint:` lines. */
function report(e: unknown, logger?: Logger): number {
  const err = toHoopError(e);
  if (logger) logger.error(err.message, { code: err.code, ...(err.hint ? { hint: err.hint } : {}) });
  else process.stderr.write(`error: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
  return exitCodeFor(err.code);
}

/** A demo listener port: 1-65535 (the demo's URLs are printed for people to use, so not 0). */
function demoPort(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new HoopError('usage', `${flag} ${v} is not a TCP port`, { hint: 'use a port from 1 to 65535' });
  }
  return n;
}
