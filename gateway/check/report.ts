/** How `hoop gateway check` prints its results: one line per check for people, or a JSON array for scripts. */
import type { CheckResult } from './checks.js';

/** One line per check (`ok  ` or `FAIL`), then a summary; `json`: the array of {check, ok, detail}. */
export function formatChecks(results: readonly CheckResult[], json: boolean): string {
  if (json) return `${JSON.stringify(results.map(({ check, ok, detail }) => ({ check, ok, detail })), null, 2)}\n`;
  const failed = results.filter((r) => !r.ok).length;
  const lines = results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'} ${visible(r.check)}: ${visible(r.detail)}`);
  lines.push(failed ? `${failed} of ${results.length} checks failed` : `all ${results.length} checks passed`);
  return `${lines.join('\n')}\n`;
}

/** Control characters (a server's error text may hold any) as escapes, so a line stays one line. */
function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
