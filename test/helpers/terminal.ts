/**
 * Runs `bin/hoop` on a pseudo-terminal made by `script` (util-linux, in Debian's essential bsdutils package), so
 * the CLI sees a TTY exactly as in a user's shell: its ink views render, and the test types keys into them.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { HOOP_BIN } from './stack.js';

export interface Terminal {
  child: ChildProcessWithoutNullStreams;
  /** Everything shown so far, without ANSI escapes. */
  screen(): string;
  /** Types keys (e.g. 'q', or '\u001b[B' for the down arrow). */
  type(keys: string): void;
  exited: Promise<number | null>;
  /**
   * Waits until what was shown since the last `type` (ink redraws whole frames) matches `re`; throws with the
   * screen's text after `timeoutMs`.
   */
  until(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/** Strips ANSI escapes (colours, cursor moves) from terminal output. */
function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\r/g, '');
}

/** `env` adds to (or, with undefined, removes from) the defaults, which give the terminal a size through COLUMNS and LINES. */
export function hoopOnTerminal(args: string[], env: Record<string, string | undefined>): Terminal {
  const quoted = [process.execPath, HOOP_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', quoted, '/dev/null'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', COLUMNS: '120', LINES: '40', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let since = 0;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const screen = (): string => plain(out);
  return {
    child, screen, exited,
    type(keys) {
      since = out.length;
      child.stdin.write(keys);
    },
    async until(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(plain(out.slice(since)));
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`never saw ${re} on the terminal; it shows:\n${screen()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
