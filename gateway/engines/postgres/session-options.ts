/**
 * hoop's own session settings, which a client passes in its startup `options` (`-c hoop.name=value`, as libpq
 * and node-postgres send `options`): they are read by the gateway and never reach the server. And the check
 * that the session reads SQL the way the policy parser does.
 */
import { HoopError } from '../../../shared/errors.js';

export interface SessionOptions {
  /** How long to hold a statement waiting for its review (`hoop exec --wait`); absent: the rule's timeout. */
  approvalWaitMs?: number;
  /** An approved review to run (`hoop exec --review`). */
  reviewId?: string;
}

/** Reads `-c hoop.x=y` / `--hoop.x=y` settings from a startup `options` string. Unknown hoop settings are errors. */
export function parseSessionOptions(options: string | undefined): SessionOptions {
  const out: SessionOptions = {};
  if (!options) return out;
  const tokens = options.split(/\s+/).filter(Boolean);
  for (let i = 0; i < tokens.length; i++) {
    let setting: string | undefined;
    const t = tokens[i]!;
    if (t === '-c') setting = tokens[++i];
    else if (t.startsWith('-c')) setting = t.slice(2);
    else if (t.startsWith('--')) setting = t.slice(2);
    if (!setting?.startsWith('hoop.')) continue;
    const eq = setting.indexOf('=');
    const name = setting.slice(5, eq < 0 ? undefined : eq);
    const value = eq < 0 ? '' : setting.slice(eq + 1);
    switch (name) {
      case 'approval_wait_ms': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw new HoopError('usage', `hoop.approval_wait_ms must be a whole number of milliseconds, not "${value}"`);
        out.approvalWaitMs = n;
        break;
      }
      case 'review':
        out.reviewId = value;
        break;
      default:
        throw new HoopError('usage', `unknown hoop setting "hoop.${name}"`);
    }
  }
  return out;
}

/**
 * The policy parser reads SQL as UTF-8 with standard-conforming strings. A session where the server would read
 * the same bytes differently (another client_encoding, or backslash escapes in plain strings) could hide a
 * statement from the checks, so it is refused.
 */
export function unsafeParameter(name: string, value: string): string | null {
  const n = name.toLowerCase();
  if (n === 'client_encoding' && !['UTF8', 'UTF-8', 'UNICODE'].includes(value.toUpperCase())) {
    return `client_encoding ${value} is not supported: hoop checks SQL as UTF8`;
  }
  if (n === 'standard_conforming_strings' && value.toLowerCase() !== 'on') {
    return 'standard_conforming_strings must stay on: hoop checks SQL as the standard reads it';
  }
  return null;
}
