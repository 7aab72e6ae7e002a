/**
 * How values that may carry a secret are shown in config messages and `--print-config`: a database URL without
 * its password, a webhook URL without its path (Slack and similar put their token there). Written for values
 * that are wrong too: a URL missing its scheme or a slash, or a libpq keyword string, still holds the password,
 * and a message that quotes it back would leak it.
 */

/** `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`, also for malformed values. */
export function redactDatabaseUrl(value: string): string {
  return value
    // user:password@ anywhere (with or without a scheme, with one slash or none)
    .replace(/([^\s/:@]*):[^\s/]*@/g, (_m, user: string) => `${user}:[redacted]@`)
    // ?password=… in a URL's query, and password=… in a libpq keyword string (quoted or not)
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)/gi, '$1[redacted]');
}

/** `https://hooks.example.com/services/T0/B0/token` → `https://hooks.example.com/[redacted]`, also for malformed values. */
export function redactWebhookUrl(value: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@]*)([/?#].*)?$/s.exec(value);
  if (!m) return '[redacted]';
  const [, origin, rest] = m;
  return rest === undefined || rest === '/' ? value : `${origin}/[redacted]`;
}
