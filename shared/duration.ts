import { HoopError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "90s", "15m", "1h", "1h30m", "2d" into milliseconds. Throws a `usage` HoopError naming the input. */
export function parseDuration(input: string, what = 'duration'): number {
  const s = input.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length || total <= 0) {
    throw new HoopError('usage', `invalid ${what} "${input}"`, { hint: 'use a number with a unit, such as 30s, 15m, 1h or 1h30m' });
  }
  return Math.round(total);
}

/** Formats milliseconds as a short human duration: "59m 12s", "1h 0m", "8s". */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const sec = Math.floor(ms / 1000);
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/**
 * Formats a configured length (a grant, a wait) with no zero parts: "10m", "1h", "1h 30m", "2d 4h", "45s". Unlike
 * {@link formatDuration}, which counts down and keeps its shape, this reads as the length was written.
 */
export function formatSpan(ms: number): string {
  const sec = Math.round(ms / 1000);
  if (sec <= 0) return '0s';
  const parts: string[] = [];
  const units: Array<[number, string]> = [[86_400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
  let left = sec;
  for (const [size, unit] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.join(' ');
}
