/**
 * Values that may carry a secret, as config messages and `--print-config` show them: never the password or the
 * webhook's token, even when the value is malformed (that is when it is quoted back to the operator).
 */
import { describe, expect, it } from 'vitest';
import { redactDatabaseUrl, redactWebhookUrl } from '../../../../gateway/config/redact.js';

describe('redactDatabaseUrl', () => {
  it.each([
    ['postgres://hoop:Sekr1t@db:5432/hoop', 'postgres://hoop:[redacted]@db:5432/hoop'],
    ['postgresql://hoop:p@ss:w0rd@db/hoop?sslmode=require', 'postgresql://hoop:[redacted]@db/hoop?sslmode=require'],
    ['hoop:Sekr1t@127.0.0.1/hoop', 'hoop:[redacted]@127.0.0.1/hoop'],
    ['postgres:/hoop:Sekr1t@127.0.0.1:18432/hoop', 'postgres:/hoop:[redacted]@127.0.0.1:18432/hoop'],
    ['postgres://db/hoop?user=hoop&password=Sekr1t&sslmode=require', 'postgres://db/hoop?user=hoop&password=[redacted]&sslmode=require'],
    ["host=db user=hoop password='Sek r1t' dbname=hoop", 'host=db user=hoop password=[redacted] dbname=hoop'],
    ['host=db password=Sekr1t', 'host=db password=[redacted]'],
    ['postgres://hoop@db/hoop', 'postgres://hoop@db/hoop'],
    // Unencoded characters in the password (the URL is then malformed, and quoted back in the error)
    ['postgres://hoop:Sekr1t/x@127.0.0.1:36515/hoop', 'postgres://hoop:[redacted]@127.0.0.1:36515/hoop'],
    ['postgres://hoop:Se/k#r?1t@db@127.0.0.1/hoop', 'postgres://hoop:[redacted]@127.0.0.1/hoop'],
    ['hoop:Sek/r1t@127.0.0.1/hoop', 'hoop:[redacted]@127.0.0.1/hoop'],
  ])('%s', (value, shown) => {
    expect(redactDatabaseUrl(value)).toBe(shown);
    expect(redactDatabaseUrl(value)).not.toMatch(/Sek|p@ss|w0rd/);
  });

  it('leaves no part of the password of a malformed value', () => {
    expect(redactDatabaseUrl('postgres:hoop:Sekr1t@db/hoop')).not.toContain('Sekr1t');
  });
});

describe('redactWebhookUrl', () => {
  it.each([
    ['https://hooks.slack.com/services/T000/B000/SECRETTOKEN', 'https://hooks.slack.com/[redacted]'],
    ['htps://hooks.slack.com/services/T000/B000/SECRETTOKEN', 'htps://hooks.slack.com/[redacted]'],
    ['https://hooks.example.com/?token=SECRETTOKEN', 'https://hooks.example.com/[redacted]'],
    ['https://hooks.example.com/', 'https://hooks.example.com/'],
    ['https://hooks.example.com', 'https://hooks.example.com'],
    ['hooks.slack.com/services/SECRETTOKEN', '[redacted]'],
    ['https://user:SECRETTOKEN@hooks.example.com/x', '[redacted]'],
  ])('%s', (value, shown) => {
    expect(redactWebhookUrl(value)).toBe(shown);
  });
});
