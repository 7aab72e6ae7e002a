import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { loadGatewayConfig } from '../../../../gateway/config/load.js';
import { roleWarnings } from '../../../../gateway/config/role-warnings.js';
import { HoopError } from '../../../../shared/errors.js';

const IDENTITY = 'identity: { issuer: https://login.example.com, audience: hoop }\n';
const CONN = (extra = '') => `connections:
  - name: shop
    type: postgres
    host: db.internal
    database: shop
    user: hoop_rw
    access: { groups: [engineers] }
${extra}`;

/** The TLS files the configs below name (a real pair, made by the test setup); any other path does not exist. */
const CERT = readFileSync(inject('tlsCertFile'), 'utf8');
const KEY = readFileSync(inject('tlsKeyFile'), 'utf8');
const PEM_FILES = new Map([['/c.pem', CERT], ['/k.pem', KEY], ['/c', CERT], ['/k', KEY], ['/etc/hoop/tls.crt', CERT], ['/etc/hoop/tls.key', KEY]]);

function readFile(path: string): string {
  const pem = PEM_FILES.get(path);
  if (pem !== undefined) return pem;
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
}

function load(yamlText: string, env: Record<string, string> = {}) {
  return loadGatewayConfig({ yamlText, env: { HOME: '/home/ann', ...env }, cwd: '/work', readFile });
}

function problems(yamlText: string, env: Record<string, string> = {}): string[] {
  try {
    load(yamlText, env);
  } catch (err) {
    expect(err).toBeInstanceOf(HoopError);
    expect((err as HoopError).code).toBe('config_invalid');
    expect((err as HoopError).hint).toMatch(/docs\/configuration\.md/);
    return (err as HoopError).details!.problems as string[];
  }
  throw new Error('expected the config to be rejected');
}

describe('defaults', () => {
  it('fills in every default from a minimal file', () => {
    const c = load(IDENTITY + CONN());
    expect(c).toMatchObject({
      listen: '127.0.0.1:8009',
      listen_host: '127.0.0.1',
      listen_port: 8009,
      allow_insecure_listen: false,
      public_url: 'http://127.0.0.1:8009',
      data_dir: '/home/ann/.local/share/hoop/gateway',
      database_connect_timeout: '10s',
      database_connect_timeout_ms: 10_000,
      log: { level: 'info' },
      identity: {
        issuer: 'https://login.example.com',
        cli_client_id: 'hoop-cli',
        audience: 'hoop',
        groups_claim: 'groups',
        username_claims: ['preferred_username', 'email', 'sub'],
        scopes: ['openid', 'profile', 'offline_access'],
        allow_insecure_http: false,
        clock_skew: '30s',
        clock_skew_ms: 30_000,
        workload_issuers: [],
      },
      roles: { admins: [], auditors: [] },
      trusted_proxies: [],
      grants: { default_ttl: '1h', max_ttl: '12h', default_ttl_ms: 3_600_000, max_ttl_ms: 43_200_000 },
    });
    expect(c.database_url).toBeUndefined();
    expect(c.tls).toBeUndefined();
    expect(c.connections[0]).toEqual({
      name: 'shop',
      type: 'postgres',
      host: 'db.internal',
      port: 5432,
      database: 'shop',
      user: 'hoop_rw',
      tls: { mode: 'verify-full' },
      access: { groups: ['engineers'], max_duration: '12h', max_duration_ms: 43_200_000 },
    });
  });

  it('gives no group a role unless roles names it, and says at start what cannot be done without an admin group', () => {
    const c = load(IDENTITY + CONN());
    expect(c.roles).toEqual({ admins: [], auditors: [] });
    const [warning, ...more] = roleWarnings(c.roles);
    expect(more).toEqual([]);
    expect(warning).toContain('no admin group is configured (roles.admins is empty)');
    expect(warning).toContain('nobody can list everyone\'s grants');
    expect(warning).toContain('nobody can read sessions or the audit log');
    expect(roleWarnings(load(IDENTITY + 'roles: { auditors: [security] }').roles)[0]).toContain('only auditors can read sessions');
    expect(roleWarnings(load(IDENTITY + 'roles: { admins: [platform] }').roles)).toEqual([]);
  });

  it('derives public_url from listen, with https when tls is set', () => {
    expect(load(IDENTITY + 'listen: "[::1]:9000"').public_url).toBe('http://[::1]:9000');
    expect(load(IDENTITY + 'listen: 127.0.0.1:8443\ntls: { cert_file: /c.pem, key_file: /k.pem }').public_url).toBe('https://127.0.0.1:8443');
    expect(load(IDENTITY + 'public_url: https://hoop.example.com/').public_url).toBe('https://hoop.example.com');
  });

  it('accepts a complete file', () => {
    const c = load(`
listen: 0.0.0.0:8443
public_url: https://hoop.example.com
tls: { cert_file: /etc/hoop/tls.crt, key_file: /etc/hoop/tls.key }
data_dir: /var/lib/hoop
database_url: postgres://hoop:pw@db:5432/hoop
database_connect_timeout: 30s
log: { level: debug }
identity:
  issuer: http://127.0.0.1:9000
  allow_insecure_http: true
  audience: hoop
  clock_skew: 1m
  workload_issuers:
    - issuer: https://token.actions.githubusercontent.com
      audience: hoop
      allow: { repository: [acme/payments], ref: [refs/heads/main, "refs/tags/v*"] }
      groups: [ci-deployers]
roles: { admins: [platform], auditors: [security] }
grants: { default_ttl: 30m, max_ttl: 8h }
${CONN(`    port: 6432
    description: the shop
    tls: { mode: require }
    guardrails: { block: [ddl] }
    approvals: [{ match: { statements: [delete] }, approvers: [dba] }]
    masking: { detectors: [email] }
    webhook_url: https://hooks.example.com/hoop`)}`);
    expect(c.identity.workload_issuers[0]).toEqual({
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'hoop',
      subject_claim: 'sub',
      allow: { repository: ['acme/payments'], ref: ['refs/heads/main', 'refs/tags/v*'] },
      groups: ['ci-deployers'],
    });
    expect(c.connections[0]!.access.max_duration).toBe('8h');
    expect(c.connections[0]!.guardrails).toEqual({ block: ['ddl'], messages: {} });
    expect(c.connections[0]!.approvals).toEqual([
      { match: { statements: ['delete'], tables: [] }, approvers: ['dba'], min_approvals: 1, timeout: '10m', timeout_ms: 600_000 },
    ]);
    expect(c.connections[0]!.masking).toEqual({ columns: {}, detectors: ['email'], detector_strategy: 'redact' });
    expect(c.identity.clock_skew_ms).toBe(60_000);
    expect(c.database_connect_timeout_ms).toBe(30_000);
  });
});

describe('every problem names the key, the value and the fix', () => {
  it.each<[string, string, string]>([
    ['port not a number', IDENTITY + CONN('    port: abc'),
      'connections[0].port: expected an integer 1-65535, got "abc" — set the target\'s TCP port'],
    ['port out of range', IDENTITY + CONN('    port: 70000'),
      'connections[0].port: expected an integer 1-65535, got 70000 — set the target\'s TCP port'],
    ['bad connection name', IDENTITY + CONN().replace('name: shop', 'name: Shop DB'),
      'connections[0].name: expected 1-63 of a-z 0-9 _ -, starting with a letter or digit, got "Shop DB" — rename the connection'],
    ['unsupported type', IDENTITY + CONN().replace('type: postgres', 'type: mysql'),
      'connections[0].type: expected postgres, got "mysql" — set type: postgres'],
    ['missing host', IDENTITY + CONN().replace('    host: db.internal\n', ''),
      "connections[0].host: expected a non-empty string (missing) — set the target's host name or IP address"],
    ['missing access', IDENTITY + CONN().replace('    access: { groups: [engineers] }\n', ''),
      'connections[0].access: expected a mapping (missing) — e.g. access: { groups: [engineers], max_duration: 8h }'],
    ['missing access.groups', IDENTITY + CONN().replace('{ groups: [engineers] }', '{}'),
      'connections[0].access.groups: expected a list of strings (missing) — list the groups allowed to request access'],
    ['bad upstream tls mode', IDENTITY + CONN('    tls: { mode: prefer }'),
      'connections[0].tls.mode: expected disable, require or verify-full, got "prefer" —'],
    ['bad max_duration', IDENTITY + CONN().replace('[engineers] }', '[engineers], max_duration: forever }'),
      'connections[0].access.max_duration: expected a duration such as 30s, 15m, 1h or 1h30m, got "forever" — set the longest grant'],
    ['max_duration above max_ttl', IDENTITY + CONN().replace('[engineers] }', '[engineers], max_duration: 24h }'),
      'connections[0].access.max_duration: expected at most grants.max_ttl (12h), got "24h" — lower it, or raise grants.max_ttl'],
    ['bad webhook_url', IDENTITY + CONN('    webhook_url: not a url'),
      'connections[0].webhook_url: expected an http(s) URL, got "[redacted]" —'],
    ['plain-http webhook_url to another host, its path (a token) hidden', IDENTITY + CONN('    webhook_url: http://hooks.slack.com/services/T000/B000/SECRETTOKEN'),
      'connections[0].webhook_url: expected an https URL, got "http://hooks.slack.com/[redacted]" — use https; plain http is accepted only for a loopback host'],
    ['plain-http webhook_url to a private address', IDENTITY + CONN('    webhook_url: http://10.0.0.5:8080/hook'),
      'connections[0].webhook_url: expected an https URL'],
    ['trusted_proxies entry a host name', IDENTITY + 'trusted_proxies: [lb.internal]',
      'trusted_proxies[0]: expected an IP address or CIDR range, got "lb.internal" — e.g. 10.0.0.5, 10.0.0.0/24 or fd00::/8 (no host names)'],
    ['trusted_proxies prefix too long', IDENTITY + 'trusted_proxies: [10.0.0.0/33]',
      'trusted_proxies[0]: expected an IP address or CIDR range, got "10.0.0.0/33" —'],
    ['trusted_proxies not a list', IDENTITY + 'trusted_proxies: 10.0.0.1',
      'trusted_proxies: expected a list of IP addresses or CIDR ranges, got "10.0.0.1" —'],
    ['unknown connection key', IDENTITY + CONN('    hostname: x'),
      'connections[0].hostname: unknown key — remove it or fix its spelling'],
    ['missing identity', CONN(),
      'identity: expected a mapping (missing) — add an identity: section with at least issuer and audience'],
    ['missing audience', 'identity: { issuer: https://login.example.com }',
      'identity.audience: expected a non-empty string (missing) — set the audience'],
    ['http issuer', 'identity: { issuer: http://login.example.com, audience: hoop }',
      'identity.issuer: expected an https URL, got "http://login.example.com" — use https, or set identity.allow_insecure_http: true'],
    ['issuer not a URL', 'identity: { issuer: login, audience: hoop }',
      'identity.issuer: expected an https URL, got "login" — set your IdP\'s issuer URL'],
    ['scopes without openid', IDENTITY.replace('audience: hoop', 'audience: hoop, scopes: [profile]'),
      'identity.scopes: expected the list to include openid, got a list — add openid to identity.scopes'],
    ['bad clock_skew', IDENTITY.replace('audience: hoop', 'audience: hoop, clock_skew: 30'),
      'identity.clock_skew: expected a duration such as 30s, 15m, 1h or 1h30m, got 30 —'],
    ['workload issuer without rules', `identity:
  issuer: https://login.example.com
  audience: hoop
  workload_issuers: [{ issuer: https://token.actions.githubusercontent.com, audience: hoop, allow: {}, groups: [ci] }]`,
    'identity.workload_issuers[0].allow: expected at least one allow rule, got a mapping — add e.g. repository: [acme/payments]; without rules every repository'],
    ['workload issuer unknown claim', `identity:
  issuer: https://login.example.com
  audience: hoop
  workload_issuers: [{ issuer: https://token.actions.githubusercontent.com, audience: hoop, allow: { branch: [main] }, groups: [ci] }]`,
    'identity.workload_issuers[0].allow.branch: unknown key'],
    ['default_ttl above max_ttl', IDENTITY + 'grants: { default_ttl: 2h, max_ttl: 1h }',
      'grants.default_ttl: expected at most grants.max_ttl (1h), got "2h" — lower grants.default_ttl or raise grants.max_ttl'],
    ['zero duration', IDENTITY + 'grants: { max_ttl: 0s }',
      'grants.max_ttl: expected a duration such as 30s, 15m, 1h or 1h30m, got "0s" —'],
    ['roles not a list', IDENTITY + 'roles: { admins: admins }',
      'roles.admins: expected a list of strings, got "admins" — list the groups whose members administer hoop'],
    ['listen without port', IDENTITY + 'listen: localhost',
      'listen: expected host:port, got "localhost" — use host:port, e.g. 127.0.0.1:8009'],
    ['public listen without tls', IDENTITY + 'listen: 10.0.0.5:8009',
      'listen: expected a loopback address when tls is not set, got "10.0.0.5:8009" — add tls: { cert_file, key_file }, or set allow_insecure_listen: true'],
    ['wildcard listen without public_url', IDENTITY + 'listen: 0.0.0.0:8009\nallow_insecure_listen: true',
      'public_url: expected a value when listen is 0.0.0.0:8009 (missing) — set public_url'],
    ['database_connect_timeout without a unit', IDENTITY + 'database_connect_timeout: 10',
      'database_connect_timeout: expected a duration such as 30s, 15m, 1h or 1h30m, got 10 — set how long connecting to the gateway\'s database may take, e.g. 10s'],
    ['bad log level', IDENTITY + 'log: { level: verbose }',
      'log.level: expected trace, debug, info, warn or error, got "verbose" — pick one of those levels'],
    ['unknown top-level key', IDENTITY + 'lisen: 127.0.0.1:1',
      'lisen: unknown key — remove it or fix its spelling (docs/configuration.md lists every key)'],
    ['database_url not postgres, credentials hidden', IDENTITY + 'database_url: mysql://hoop:hunter2@db/hoop',
      'database_url: expected a postgres:// URL, got "mysql://hoop:[redacted]@db/hoop" —'],
    ['database_url without its scheme, password hidden', IDENTITY + 'database_url: "hoop:Sekr1t-LEAK@127.0.0.1/hoop"',
      'database_url: expected a postgres:// URL, got "hoop:[redacted]@127.0.0.1/hoop" —'],
    ['database_url with one slash (no host: pg would use localhost), password hidden', IDENTITY + 'database_url: "postgres:/hoop:Sekr1t-LEAK@127.0.0.1:18432/hoop"',
      'database_url: expected a postgres:// URL, got "postgres:/hoop:[redacted]@127.0.0.1:18432/hoop" —'],
    ['database_url with an unencoded / in its password: the password hidden, and the hint says to encode it', IDENTITY + 'database_url: "postgres://hoop:Sekr1t/x@127.0.0.1:36515/hoop"',
      'database_url: expected a postgres:// URL, got "postgres://hoop:[redacted]@127.0.0.1:36515/hoop" — set the PostgreSQL URL, e.g. postgres://hoop:${env:PW}@db:5432/hoop (a reference is encoded for you; a password written into the URL itself must be percent-encoded: / as %2F'],
    ['database_url as libpq keywords, password hidden', IDENTITY + 'database_url: "host=db user=hoop password=Sekr1t-LEAK dbname=hoop"',
      'database_url: expected a postgres:// URL, got "host=db user=hoop password=[redacted] dbname=hoop" —'],
    ['webhook_url with a misspelt scheme, its path (a token) hidden', IDENTITY + CONN('    webhook_url: htps://hooks.slack.com/services/T000/B000/SECRETTOKEN'),
      'connections[0].webhook_url: expected an http(s) URL, got "htps://hooks.slack.com/[redacted]" —'],
    ['inline password of the wrong type is not echoed', IDENTITY + CONN('    password: 123456'),
      'connections[0].password: expected a string, got [redacted] —'],
    ['connections not a list', IDENTITY + 'connections: { shop: {} }',
      'connections: expected a list of connections, got a mapping —'],
    ['server tls half set', IDENTITY + 'tls: { cert_file: /c.pem }',
      'tls.key_file: expected a non-empty string (missing) — set the path of the PEM private key'],
  ])('%s', (_name, yaml, expected) => {
    const found = problems(yaml);
    expect(found.some((p) => p.startsWith(expected)), `${expected}\nnot in:\n${found.join('\n')}`).toBe(true);
    expect(found.join('\n')).not.toMatch(/Sekr1t|SECRETTOKEN|hunter2/);
  });

  it('reports duplicate connection names', () => {
    const yaml = IDENTITY + CONN() + CONN().replace('connections:\n', '');
    expect(problems(yaml)).toContain('connections[1].name: expected a unique name (connections[0] has it too), got "shop" — rename one of them');
  });

  it('lists every problem at once, in one error', () => {
    const found = problems(CONN('    port: abc\n    tls: { mode: prefer }\n') + 'lisen: x\n');
    expect(found).toHaveLength(4);
  });

  it('never prints the value a secret reference produced', () => {
    const found = problems(IDENTITY + CONN('    port: ${env:PORT}\n    password: ${env:PW}'), { PORT: 'port-value-xyz', PW: 'pw-value-xyz' });
    expect(found).toEqual(['connections[0].port: expected an integer 1-65535, got the value of ${env:PORT} — set the target\'s TCP port']);
  });

  it('accepts trusted_proxies as addresses and CIDR ranges, v4 and v6', () => {
    expect(load(IDENTITY + 'trusted_proxies: [10.0.0.5, 10.0.0.0/24, "::1", "fd00::/8"]').trusted_proxies).toEqual(['10.0.0.5', '10.0.0.0/24', '::1', 'fd00::/8']);
  });

  it('accepts an https webhook_url anywhere, and an http one only on a loopback host', () => {
    for (const url of ['https://hooks.slack.com/services/T0/B0/x', 'http://127.0.0.1:9999/hook', 'http://localhost/hook', 'http://[::1]:80/hook']) {
      expect(load(IDENTITY + CONN(`    webhook_url: "${url}"`)).connections[0]!.webhook_url, url).toBe(url);
    }
  });

  it('accepts an http issuer with allow_insecure_http, and a public listen with tls', () => {
    expect(() => load('identity: { issuer: http://127.0.0.1:9000, audience: hoop, allow_insecure_http: true }')).not.toThrow();
    expect(() => load(IDENTITY + 'listen: 0.0.0.0:8443\npublic_url: https://hoop.example.com\ntls: { cert_file: /c, key_file: /k }')).not.toThrow();
  });
});
