/** `hoop gateway start` and `hoop demo`: the gateway program's entry point. */
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor, HoopError, toHoopError } from '../shared/errors.js';
import { createLogger, parseLogLevel, type Logger } from '../shared/log.js';
import { loadGatewayConfig, printConfig } from './config/load.js';
import { startGateway } from './gateway.js';
import { startDemo, walkthrough } from './demo/demo.js';

export async function main(argv: string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const program = new Command('hoop').exitOverride().configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
  });
  let stop: (() => Promise<void>) | undefined;

  program
    .command('gateway')
    .description('the central gateway')
    .command('start')
    .description('run the gateway in the foreground (logs are JSON lines on stderr)')
    .option('--config <file>', 'the YAML configuration file (see docs/configuration.md)', env.HOOP_CONFIG_FILE)
    .option('--listen <host:port>', 'listen address (overrides the file and HOOP_LISTEN)')
    .option('--print-config', 'print the effective configuration, secrets redacted, and exit')
    .action(async (opts: { config?: string; listen?: string; printConfig?: boolean }) => {
      const config = loadGatewayConfig({
        env,
        ...(opts.config ? { file: opts.config } : {}),
        ...(opts.listen ? { overrides: { listen: opts.listen } } : {}),
      });
      if (opts.printConfig) {
        process.stdout.write(printConfig(config));
        return;
      }
      const logger = createLogger({ level: parseLogLevel(env.HOOP_LOG_LEVEL, config.log.level), format: 'json' });
      const gw = await startGateway({ config, logger, env });
      stop = gw.close;
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

  const shutdown = listenForShutdown();
  // A closed terminal (SIGHUP) makes every write to it fail (EIO). Unheard, that error would crash the process
  // in the middle of its graceful shutdown, before the final checkpoint; there is nobody left to tell anyway.
  for (const out of [process.stdout, process.stderr]) out.on('error', () => undefined);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    shutdown.dispose();
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return report(e);
  }
  if (!stop) {
    shutdown.dispose();
    return EXIT.ok;
  }
  await shutdown.requested;
  await stop();
  return EXIT.ok;
}

function report(e: unknown, logger?: Logger): number {
  const err = toHoopError(e);
  if (logger) logger.error(err.message, { code: err.code, hint: err.hint });
  process.stderr.write(`error: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
  return exitCodeFor(err.code);
}

/** The signals that stop the gateway, and the exit code of a stop at once (128 + the signal's number). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type ShutdownSignal = keyof typeof SIGNAL_EXIT;
const SIGNALS = Object.keys(SIGNAL_EXIT) as ShutdownSignal[];

/**
 * Listens for SIGINT, SIGTERM and SIGHUP (the terminal closed) from before the program starts its servers, so a
 * signal during start-up is not the default abrupt death: the first one asks for the graceful shutdown
 * (`requested`, at the latest once start-up is done); a second one exits at once through `process.exit`, whose
 * `exit` listeners still stop the embedded PostgreSQL (it runs in a process group of its own, so no terminal
 * signal reaches it).
 */
function listenForShutdown(): { requested: Promise<void>; dispose: () => void } {
  let asked: (() => void) | undefined;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  const final = (signal: ShutdownSignal): void => {
    process.stderr.write(`\n${signal} again: stopping at once\n`);
    process.exit(SIGNAL_EXIT[signal]);
  };
  const first = (): void => {
    dispose();
    for (const s of SIGNALS) process.on(s, final);
    process.stderr.write('\nshutting down… (signal again to stop at once)\n');
    asked!();
  };
  const dispose = (): void => {
    for (const s of SIGNALS) process.off(s, first);
  };
  for (const s of SIGNALS) process.on(s, first);
  return { requested, dispose };
}

/** A demo listener port: 1-65535 (the demo's URLs are printed for people to use, so not 0). */
function demoPort(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new HoopError('usage', `${flag} ${v} is not a TCP port`, { hint: 'use a port from 1 to 65535' });
  }
  return n;
}
