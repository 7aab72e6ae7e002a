/**
 * Lengths of time and times of day as people write and read them: parsing `--duration 1h30m` and `--since 7d`,
 * and the one format every human-facing output (the CLI and `hoop agent status`) shows times in. Here, in
 * shared/, because the agent formats its own status and may not import the CLI.
 */
import { HoopError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Hints that name every form accepted: each unit parseDuration takes, and for --since the ISO times too. */
const DURATION_HINT = 'use a number with a unit (ms, s, m, h or d), such as 30s, 15m, 1h, 1h30m or 7d';
const SINCE_HINT = 'use a length of time back from now (a number with a unit: ms, s, m, h or d, such as 30m, 24h, 7d or 1h30m) '
  + 'or an ISO time (such as 2026-01-02 or 2026-01-02T04:13:44Z)';

/** Milliseconds, or null when `s` is not a positive length of time. */
function durationMs(input: string): number | null {
  const s = input.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
    matched = re.lastIndex;
  }
  return s.length === 0 || matched !== s.length || total <= 0 ? null : Math.round(total);
}

/** Parses "90s", "15m", "1h", "1h30m", "2d" into milliseconds. Throws a `usage` HoopError naming the input. */
export function parseDuration(input: string, what = 'duration'): number {
  const ms = durationMs(input);
  if (ms === null) throw new HoopError('usage', `invalid ${what} "${input}"`, { hint: DURATION_HINT });
  return ms;
}

/**
 * A `--since` (or `--until`) value: a length of time back from `now` ("24h", "7d") or an ISO time
 * ("2026-01-02", "2026-01-02T04:13:44Z"). Throws a `usage` HoopError whose hint names both forms.
 */
export function parseSince(input: string, now: Date, what = '--since'): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(input)) {
    const d = new Date(input);
    if (Number.isNaN(d.getTime())) throw new HoopError('usage', `invalid ${what} "${input}": not a valid time`, { hint: SINCE_HINT });
    return d;
  }
  const ms = durationMs(input);
  if (ms === null) throw new HoopError('usage', `invalid ${what} "${input}"`, { hint: SINCE_HINT });
  return new Date(now.getTime() - ms);
}

/**
 * A time for people: `04:13:44Z`, or `2026-01-02 04:13:44Z` when the day (UTC) is not today's, as for a grant
 * that ends after midnight. UTC, because everything else hoop shows is UTC (`--json`, the audit log, the
 * gateway's logs), so a time on the screen can be matched against them without converting. `--json` keeps
 * ISO-8601 and does not use this. A value that is not a time is shown as it came rather than thrown on.
 */
export function clockTime(at: string | number | Date, now: Date): string {
  const t = new Date(at);
  if (Number.isNaN(t.getTime())) return String(at);
  const iso = t.toISOString();
  const time = `${iso.slice(11, 19)}Z`;
  const day = iso.slice(0, 10);
  return day === now.toISOString().slice(0, 10) ? time : `${day} ${time}`;
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
