/**
 * CSV as RFC 4180 writes it: CRLF line ends, a header row, and a field quoted (with `"` doubled) when it holds
 * a comma, a double quote, CR or LF. Values are written exactly (no spreadsheet-formula escaping): the CSV
 * files in an evidence bundle are views of evidence and must not alter it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4180
 */
import { canonicalize } from './canonical.js';

/** One field's text: null/undefined empty, Date as ISO, objects and arrays as canonical JSON. */
export function csvValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    try {
      return canonicalize(v);
    } catch {
      return JSON.stringify(v) ?? '';
    }
  }
  return String(v);
}

export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Rows to CSV. Columns are the rows' keys in first-seen order, unless `columns` is given.
 * No rows and no columns give an empty string.
 */
export function toCsv(rows: readonly object[], columns?: readonly string[]): string {
  const cols = columns ? [...columns] : [];
  if (!columns) {
    const seen = new Set<string>();
    for (const r of rows) {
      for (const k of Object.keys(r)) {
        if (seen.has(k)) continue;
        seen.add(k);
        cols.push(k);
      }
    }
  }
  if (cols.length === 0) return '';
  const lines = [cols.map(csvField).join(',')];
  for (const r of rows) lines.push(cols.map((c) => csvField(csvValue((r as Record<string, unknown>)[c]))).join(','));
  return lines.map((l) => `${l}\r\n`).join('');
}
