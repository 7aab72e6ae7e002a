import { describe, expect, it } from 'vitest';
import { csvField, csvValue, toCsv } from '../../../../shared/audit/csv.js';

describe('CSV (RFC 4180)', () => {
  it('quotes fields holding commas, quotes, CR or LF, doubling quotes, with CRLF line ends', () => {
    const rows = [
      { id: 1, text: 'select 1', note: null },
      { id: 2, text: 'select "a", b\nfrom t', note: 'x\ry' },
      { id: 3, text: '"', extra: { b: 1, a: [true] } },
    ];
    expect(toCsv(rows)).toBe(
      'id,text,note,extra\r\n'
      + '1,select 1,,\r\n'
      + '2,"select ""a"", b\nfrom t","x\ry",\r\n'
      + '3,"""",,"{""a"":[true],""b"":1}"\r\n',
    );
  });

  it('writes values exactly: dates as ISO, no formula escaping, no trimming', () => {
    expect(csvValue(new Date(Date.UTC(2026, 0, 2)))).toBe('2026-01-02T00:00:00.000Z');
    expect(csvField('=HYPERLINK("x")')).toBe('"=HYPERLINK(""x"")"');
    expect(csvField(' padded ')).toBe(' padded ');
    expect(csvValue(undefined)).toBe('');
    expect(csvValue(0)).toBe('0');
  });

  it('honours explicit columns, and writes nothing for no rows and no columns', () => {
    expect(toCsv([{ a: 1, b: 2 }], ['b', 'missing'])).toBe('b,missing\r\n2,\r\n');
    expect(toCsv([], ['a'])).toBe('a\r\n');
    expect(toCsv([])).toBe('');
  });
});
