/**
 * `hoop … | head -1`: once the reader exits, each write to stdout fails with EPIPE. Node ignores the SIGPIPE that
 * ends other tools there, and an unheard 'error' event would crash the process with a stack trace.
 */

/** Whether a write failed because the reading end of the pipe is closed. */
export function isBrokenPipe(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === 'EPIPE';
}

/**
 * Calls `listener` on each EPIPE from stdout or stderr: their reader went away. Returns a function that stops
 * listening. Other write errors are left to the stream's other listeners.
 */
export function onBrokenPipe(listener: () => void): () => void {
  const onError = (e: Error): void => {
    if (isBrokenPipe(e)) listener();
  };
  for (const s of [process.stdout, process.stderr]) s.on('error', onError);
  return () => {
    for (const s of [process.stdout, process.stderr]) s.off('error', onError);
  };
}

/**
 * For a whole command run: output to a closed pipe is dropped and the command ends as it would have, with its own
 * exit code. Any other write error (a full disk under a redirect) is not hidden: it is thrown, as before.
 */
export function dropOutputOnBrokenPipe(): void {
  if (installed) return; // once per process (tests run main() many times in one)
  installed = true;
  for (const s of [process.stdout, process.stderr]) s.on('error', rethrowUnlessBrokenPipe);
}

let installed = false;

function rethrowUnlessBrokenPipe(e: Error): void {
  if (!isBrokenPipe(e)) throw e;
}
