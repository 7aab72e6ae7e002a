import { describe, expect, it } from 'vitest';
import { copyKind } from '../../../cli/commands/exec.js';

describe('copyKind (which COPY statements hoop exec streams)', () => {
  it.each([
    ['COPY t TO STDOUT', 'out'],
    ['copy (select 1) to stdout with (format csv, header)', 'out'],
    ['  -- export\n/* nightly */ COPY t TO STDOUT', 'out'],
    ['COPY t FROM STDIN', 'in'],
    ['copy t (a, b) from\n  stdin with (format csv)', 'in'],
    ["COPY t TO '/tmp/t.csv'", null], // a server-side file: an ordinary statement
    ["COPY t FROM '/tmp/t.csv'", null],
    ['SELECT 1 AS to_stdout', null],
    ['SELECT * FROM copy_log', null],
    ['-- COPY t TO STDOUT\nSELECT 1', null],
  ] as const)('%j is %s', (sql, kind) => {
    expect(copyKind(sql)).toBe(kind);
  });
});
