/** What the gateway says when a signal stops it: a JSON log line for `hoop gateway start`, plain text for the demo. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../shared/log.js';
import { listenForShutdown, loggedNotices, textNotices } from '../../../gateway/shutdown.js';

let dispose: (() => void) | undefined;
afterEach(() => {
  dispose?.();
  vi.restoreAllMocks();
});

describe('listenForShutdown', () => {
  it('with JSON logging, the first and the second signal are each one JSON log line, and nothing else is written', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const s = listenForShutdown(loggedNotices(() => logger));
    dispose = s.dispose;
    process.emit('SIGTERM', 'SIGTERM'); // as Node calls a signal's listeners: with its name
    await s.requested;
    process.emit('SIGINT', 'SIGINT');
    expect(exit).toHaveBeenCalledWith(130);
    expect(stderr).not.toHaveBeenCalled();
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ level: 'info', msg: 'shutting down… (signal again to stop at once)', signal: 'SIGTERM' });
    expect(second).toMatchObject({ level: 'warn', msg: 'SIGINT again: stopping at once', signal: 'SIGINT' });
  });

  it('in text mode, says it in plain lines', async () => {
    let text = '';
    const s = listenForShutdown(textNotices((t) => (text += t)));
    dispose = s.dispose;
    process.emit('SIGHUP', 'SIGHUP');
    await s.requested;
    expect(text).toBe('\nshutting down… (signal again to stop at once)\n');
    s.stopped();
    expect(text).toBe('\nshutting down… (signal again to stop at once)\nstopped.\n');
  });

  it('dispose gives the signals back: no listener of its own is left', () => {
    const before = process.listenerCount('SIGTERM');
    const s = listenForShutdown(textNotices(() => undefined));
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGTERM', 'SIGTERM');
    s.dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
