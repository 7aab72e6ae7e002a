import { describe, expect, it } from 'vitest';
import { visible, visibleInLine } from '../../../cli/ui/visible.js';
import { table } from '../../../cli/ui/output.js';

describe('text from others, shown on a terminal', () => {
  it('shows control characters as escapes, keeping tabs and newlines in lines', () => {
    expect(visible('DELETE\u001b[2K\u001b[1G\rSELECT 1\u0007\u007f\u009b\u202e\u2066 ok\tnext\nline')).toBe(
      'DELETE\\x1b[2K\\x1b[1G\\rSELECT 1\\x07\\x7f\\x9b\\u202e\\u2066 ok\tnext\nline',
    );
    expect(visible('plain ascii, ünïcödé, 漢字, emoji 🚀')).toBe('plain ascii, ünïcödé, 漢字, emoji 🚀');
  });

  it('keeps a table cell on its line', () => {
    expect(visibleInLine('multi\nline\t\u001b[31mred')).toBe('multi\\nline\\t\\x1b[31mred');
    expect(table(['ID', 'REASON'], [['g1', 'multi\nline \u001b[31mred']]).split('\n')).toEqual([
      'ID  REASON',
      'g1  multi\\nline \\x1b[31mred',
    ]);
  });
});
