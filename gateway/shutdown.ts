/**
 * How the gateway program is stopped by signals, and what it says when it is: through the JSON logger for
 * `hoop gateway start` (every line on stderr is then JSON), as plain lines for `hoop demo`, whose text logger
 * only shows warnings.
 */
import type { Logger } from '../shared/log.js';

/** The signals that stop the gateway, and the exit code of a stop at once (128 + the signal's number). */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
export type ShutdownSignal = keyof typeof SIGNAL_EXIT;
const SIGNALS = Object.keys(SIGNAL_EXIT) as ShutdownSignal[];

/** What is said when a signal arrives. */
export interface ShutdownNotices {
  /** The first signal: the graceful shutdown starts. */
  shuttingDown(signal: ShutdownSignal): void;
  /** A second signal: the process exits at once. */
  stoppingNow(signal: ShutdownSignal): void;
  /** The graceful shutdown is done: nothing of the gateway runs any more. */
  stopped(): void;
}

/** Notices as log records (the logger is looked up when a signal comes: it may be replaced once config loads). */
export function loggedNotices(logger: () => Logger): ShutdownNotices {
  return {
    shuttingDown: (signal) => logger().info('shutting down… (signal again to stop at once)', { signal }),
    stoppingNow: (signal) => logger().warn(`${signal} again: stopping at once`, { signal }),
    stopped: () => logger().info('stopped'),
  };
}

/** Notices as plain lines, after a newline (a terminal shows `^C` before them). */
export function textNotices(write: (text: string) => void): ShutdownNotices {
  return {
    shuttingDown: () => write('\nshutting down… (signal again to stop at once)\n'),
    stoppingNow: (signal) => write(`\n${signal} again: stopping at once\n`),
    stopped: () => write('stopped.\n'),
  };
}

/**
 * Listens for SIGINT, SIGTERM and SIGHUP (the terminal closed) from before the program starts its servers, so a
 * signal during start-up is not the default abrupt death: the first one asks for the graceful shutdown
 * (`requested`, at the latest once start-up is done); a second one exits at once through `process.exit`, whose
 * `exit` listeners still stop the embedded PostgreSQL (it runs in a process group of its own, so no terminal
 * signal reaches it). `dispose` gives the signals back their default action; `stopped` says the shutdown is done.
 */
export function listenForShutdown(notices: ShutdownNotices): { requested: Promise<void>; dispose: () => void; stopped: () => void } {
  let asked: (() => void) | undefined;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  const final = (signal: ShutdownSignal): void => {
    notices.stoppingNow(signal);
    process.exit(SIGNAL_EXIT[signal]);
  };
  const first = (signal: ShutdownSignal): void => {
    dispose();
    for (const s of SIGNALS) process.on(s, final);
    notices.shuttingDown(signal);
    asked!();
  };
  const dispose = (): void => {
    for (const s of SIGNALS) process.off(s, first).off(s, final);
  };
  for (const s of SIGNALS) process.on(s, first);
  return { requested, dispose, stopped: () => notices.stopped() };
}
