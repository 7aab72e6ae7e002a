/** Result formats for `hoop exec`: an aligned table for people, CSV (RFC 4180) and JSON Lines for scripts. */

export type Cell = string | number | boolean | null | Record<string, unknown> | unknown[];

export interface StatementResult {
  statement: string;
  command: string;
  row_count: number | null;
  columns: string[];
  rows: Cell[][];
}

export type ResultFormat = 'table' | 'csv' | 'json';

export function formatResult(r: StatementResult, format: ResultFormat): string | null {
  switch (format) {
    case 'json':
      return JSON.stringify(r);
    case 'csv':
      return r.columns.length ? [r.columns, ...r.rows].map((row) => row.map(csvField).join(',')).join('\n') : null;
    case 'table':
      return r.columns.length ? table(r) : null;
  }
}

function text(v: Cell): string {
  if (v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function csvField(v: Cell): string {
  const s = text(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function table(r: StatementResult): string {
  const cells = r.rows.map((row) => row.map((v) => (v === null ? '' : text(v).replace(/\n/g, '↵'))));
  const widths = r.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const numeric = r.columns.map((_, i) => r.rows.length > 0 && r.rows.every((row) => row[i] === null || typeof row[i] === 'number'));
  const line = (vals: string[], head = false): string =>
    ' ' + vals.map((v, i) => (head ? v.padEnd(widths[i]!) : numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ').trimEnd();
  const n = r.rows.length;
  return [line(r.columns, true), widths.map((w) => '-'.repeat(w + 2)).join('+'), ...cells.map((row) => line(row)), `(${n} row${n === 1 ? '' : 's'})`].join('\n');
}
