/**
 * Holds SIGINT and SIGTERM while a command has something to undo first (`hoop exec` cancels its running
 * statement), then ends the process by the same signal, as it would have ended without the trap: a shell still
 * sees 130 or 143, and a script running it still stops on Ctrl-C. A second signal ends it at once.
 *
 * A broken pipe (`hoop exec … | head -1`: the reader of stdout or stderr went away) is the third way a command is
 * stopped from outside. Node ignores SIGPIPE, so it shows as an EPIPE write error ({@link onBrokenPipe}); the
 * trap undoes the same things, then ends the process quietly with 0, as other Unix tools end on SIGPIPE.
 *
 * While the trap is set it alone hears these signals. Other listeners are set aside and put back when it is
 * released or the signal ends the process: a library's exit hook (conf → atomically → when-exit) re-raises the
 * signal as soon as it hears it, which would end the process before the cleanup is done.
 */
import { constants } from 'node:os';
import { onBrokenPipe } from '../../shared/broken-pipe.js';

export interface SignalTrap {
  /**
   * Resolves at once when no signal came; never settles once one did (the process ends by it). Awaited where
   * the command would otherwise go on, or report an error the signal caused (a cancelled statement's).
   */
  unlessSignalled(): Promise<void>;
  /** Gives the signals back to the other listeners and the default action; a signal being handled still ends the process. */
  release(): void;
}

const TRAPPED = ['SIGINT', 'SIGTERM'] as const;
type Trapped = (typeof TRAPPED)[number];
type Listener = (...args: unknown[]) => void;

/** If the listeners put back do not end the process, it exits this long after the signal is raised again. */
const FALLBACK_EXIT_MS = 1000;

/** Traps SIGINT, SIGTERM and a broken pipe until released; `cleanup` runs on the first one and must not reject. */
export function trapSignals(cleanup: (signal: NodeJS.Signals) => Promise<void>): SignalTrap {
  let received: NodeJS.Signals | null = null;
  let released = false;
  const never = new Promise<void>(() => undefined);
  const others = new Map<Trapped, Listener[]>();
  const giveBack = (): void => {
    if (released) return;
    released = true;
    stopPipeWatch();
    for (const s of TRAPPED) {
      process.off(s, onSignal);
      for (const l of others.get(s) ?? []) process.on(s, l);
    }
  };
  const end = (signal: NodeJS.Signals): void => {
    giveBack();
    // Nobody is left to read: end quietly, as on SIGPIPE (which Node ignores, so it cannot end us by itself).
    if (signal === 'SIGPIPE') process.exit(0);
    const status = 128 + constants.signals[signal];
    // With no other listener this ends the process at once, by the signal; otherwise they hear it first.
    process.kill(process.pid, signal);
    setTimeout(() => process.exit(status), FALLBACK_EXIT_MS);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== null) return end(signal);
    received = signal;
    void cleanup(signal).then(() => end(signal), () => end(signal));
  };
  for (const s of TRAPPED) {
    others.set(s, process.rawListeners(s) as Listener[]);
    process.removeAllListeners(s);
    process.on(s, onSignal);
  }
  // Later EPIPEs (each write to the closed pipe fails again) are not a second signal: the cleanup goes on.
  const stopPipeWatch = onBrokenPipe(() => {
    if (received === null) onSignal('SIGPIPE');
  });
  return {
    unlessSignalled: () => (received === null ? Promise.resolve() : never),
    release: () => {
      if (received === null) giveBack();
    },
  };
}
