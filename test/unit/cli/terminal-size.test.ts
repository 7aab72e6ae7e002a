import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FALLBACK_COLUMNS, FALLBACK_ROWS, withTerminalSize } from '../../../cli/ui/terminal-size.js';

/** A stand-in for process.stdout on a terminal that reports `columns` and `rows`. */
function terminal(columns: number | undefined, rows: number | undefined): NodeJS.WriteStream {
  return Object.assign(new PassThrough(), { isTTY: true, columns, rows }) as unknown as NodeJS.WriteStream;
}

describe('withTerminalSize: the stdout the ink views lay out to', () => {
  it('reads 0 or undefined columns as 80 and rows as 24, as `script` without `stty cols` reports', () => {
    for (const size of [0, undefined]) {
      const out = withTerminalSize(terminal(size, size));
      expect(out.columns).toBe(FALLBACK_COLUMNS);
      expect(out.rows).toBe(FALLBACK_ROWS);
    }
    expect(FALLBACK_COLUMNS).toBe(80);
  });

  it('keeps a real size, and follows a resize', () => {
    const real = terminal(132, 50);
    const out = withTerminalSize(real);
    expect([out.columns, out.rows]).toEqual([132, 50]);
    real.columns = 0;
    expect(out.columns).toBe(80);
    real.columns = 100;
    expect(out.columns).toBe(100);
  });

  it('is otherwise the stream itself: writes and events reach it', async () => {
    const real = terminal(0, 0);
    const out = withTerminalSize(real);
    let resized = 0;
    const onResize = (): void => void resized++;
    out.on('resize', onResize);
    real.emit('resize');
    out.off('resize', onResize);
    real.emit('resize');
    expect(resized).toBe(1);
    out.write('hello');
    expect(((real as unknown as PassThrough).read() as Buffer).toString()).toBe('hello');
    expect(out.isTTY).toBe(true);
  });
});
