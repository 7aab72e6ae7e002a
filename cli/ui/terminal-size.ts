/**
 * Ink lays its views out to `stdout.columns`. A terminal that reports 0 columns (a pseudo-terminal nobody gave a
 * size, such as the one `script` makes when no `stty cols` is run) would make every line 0 wide: one character
 * per line. Ink's own fallback does not help there: it asks /dev/tty, which is that same terminal and says 0 too.
 * Rows get the same treatment: with 0 rows, ink takes any output as filling the screen and clears the whole
 * terminal on every redraw.
 */

/** The width assumed when the terminal reports none: the classic terminal's, which every view here fits. */
export const FALLBACK_COLUMNS = 80;
/** The height assumed when the terminal reports none. */
export const FALLBACK_ROWS = 24;

/**
 * `stream` as ink should see it: the same stream, except that 0 or undefined `columns` and `rows` read as
 * {@link FALLBACK_COLUMNS} and {@link FALLBACK_ROWS}. Read on every access, so a later resize to a real size is
 * followed.
 */
export function withTerminalSize<S extends NodeJS.WriteStream>(stream: S): S {
  return new Proxy(stream, {
    get(target, key) {
      if (key === 'columns') return target.columns || FALLBACK_COLUMNS;
      if (key === 'rows') return target.rows || FALLBACK_ROWS;
      const value: unknown = Reflect.get(target, key, target);
      // Methods run on the stream itself: its internal state (listeners, write buffers) lives there.
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
