/**
 * How values that may carry a secret are shown in config messages and `--print-config`: a database URL without
 * its password, a webhook URL without its path (Slack and similar put their token there). Written for values
 * that are wrong too: a URL missing its scheme or a slash, or a libpq keyword string, still holds the password,
 * and a message that quotes it back would leak it.
 */

/** `scheme://user:` then everything up to the last `@`: an unencoded password may hold `/`, `@`, `:` or `#`. */
const SCHEME_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^\s/:@]*):\S*@/i;

/** `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`, also for malformed values. */
export function redactDatabaseUrl(value: string): string {
  let out = SCHEME_USERINFO.test(value)
    ? value.replace(SCHEME_USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:[redacted]@`)
    // user:password@ anywhere else (no scheme, or one slash), up to a slash
    : value.replace(/([^\s/:@]*):[^\s/]*@/g, (_m, user: string) => `${user}:[redacted]@`);
  // With no scheme, a password holding a slash stops the rule above: everything up to the last @ goes.
  if (out === value && !value.includes('://')) out = value.replace(/^([^\s/:@]*):\S*@/, (_m, user: string) => `${user}:[redacted]@`);
  // ?password=… in a URL's query, and password=… in a libpq keyword string (quoted or not)
  return out.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)/gi, '$1[redacted]');
}

/** `https://hooks.example.com/services/T0/B0/token` → `https://hooks.example.com/[redacted]`, also for malformed values. */
export function redactWebhookUrl(value: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@]*)([/?#].*)?$/s.exec(value);
  if (!m) return '[redacted]';
  const [, origin, rest] = m;
  return rest === undefined || rest === '/' ? value : `${origin}/[redacted]`;
}
