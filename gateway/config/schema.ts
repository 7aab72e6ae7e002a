/**
 * The gateway's configuration schema (one YAML file, see docs/configuration.md).
 *
 * Conventions:
 * - Keys stay snake_case, exactly as written in the file.
 * - Durations stay strings as written ("1h", "30s"). Each one also gets a sibling `<key>_ms` field holding
 *   milliseconds: `grants.default_ttl_ms`, `grants.max_ttl_ms`, `identity.clock_skew_ms`,
 *   `connections[].access.max_duration_ms`, `database_connect_timeout_ms`. Code reads the `_ms` fields; people
 *   read the strings.
 * - Other derived fields: `listen_host` and `listen_port` (parsed from `listen`). `public_url` and
 *   `connections[].access.max_duration` are always filled in, from their defaults if the file left them out.
 * - Every error message has the form "<what was expected> — <how to fix it>". The loader inserts the key path
 *   and the offending value (never a secret's value) between the two halves.
 *
 * Paths (`data_dir`, `tls.*_file`, `connections[].tls.ca_file`) are expanded (`~`, relative paths) by the
 * loader, not here: the schema is pure.
 */
import { isIP } from 'node:net';
import { isLoopbackHost } from '../../shared/net/loopback.js';
import { z } from 'zod';
import { approvalsSchema, guardrailsSchema } from '../policy/config-schema.js';
import { maskingSchema } from './masking-schema.js';
import { parseDuration } from '../../shared/duration.js';

/** Builds an error message in the form the loader expands: "<expected> — <fix>". */
export function problem(expected: string, fix: string): string {
  return `${expected} — ${fix}`;
}

const e = (expected: string, fix: string) => ({ error: problem(expected, fix) });

function text(fix: string) {
  const err = e('expected a non-empty string', fix);
  return z.string(err).min(1, err);
}

function stringList(fix: string) {
  return z.array(text(fix), e('expected a list of strings', fix));
}

function flag(fix: string) {
  return z.boolean(e('expected true or false', fix)).default(false);
}

/** Milliseconds, or undefined for an invalid duration (zod runs object-level checks even after a field failed). */
function durationMs(s: string): number | undefined {
  try {
    return parseDuration(s);
  } catch {
    return undefined;
  }
}

function isDuration(s: string): boolean {
  return durationMs(s) !== undefined;
}

function duration(fix: string) {
  const err = e('expected a duration such as 30s, 15m, 1h or 1h30m', fix);
  return z.string(err).refine(isDuration, err);
}

function httpUrl(expected: string, fix: string, protocols: readonly string[]) {
  const err = e(expected, fix);
  return z.string(err).refine((s) => {
    if (!URL.canParse(s)) return false;
    return protocols.includes(new URL(s).protocol);
  }, err);
}

/** `host:port` with `port` 0-65535 (0 = any free port); IPv6 hosts in brackets: `[::1]:8009`. */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(listen);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** Whether a listen host only accepts connections from this machine (the CLI's rule too). */
export { isLoopbackHost };

/** A plain-http URL to another machine (URL.hostname keeps IPv6 brackets). Other malformations are reported elsewhere. */
function isRemotePlainHttp(s: string): boolean {
  if (!URL.canParse(s)) return false;
  const url = new URL(s);
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
}

/** An IPv4 or IPv6 address (no host name), optionally with a /prefix no longer than the address. */
function isAddressOrCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined || addr.includes('%')) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32);
}

function isUnspecifiedHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

export const CONNECTION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export const UPSTREAM_TLS_MODES = ['disable', 'require', 'verify-full'] as const;

const workloadIssuerSchema = z.strictObject({
  // http only with identity.allow_insecure_http (checked below): a loopback test issuer.
  issuer: httpUrl('expected an https URL', "set the workload token issuer, e.g. https://token.actions.githubusercontent.com", ['https:', 'http:']),
  audience: text('set the audience the workload tokens are minted for'),
  subject_claim: text('name the claim that identifies the workload, usually sub').default('sub'),
  /** Claim name → allowed values (exact, or glob with `*`). Every listed claim must match. */
  allow: z
    .strictObject({
      repository: stringList('list repositories such as acme/payments').optional(),
      ref: stringList('list refs such as refs/heads/main').optional(),
      workflow: stringList('list workflow names').optional(),
      environment: stringList('list deployment environments').optional(),
      sub: stringList('list subjects').optional(),
    }, e('expected a mapping of claim → list of allowed values', 'add e.g. repository: [acme/payments]'))
    .refine((a) => Object.values(a).some((v) => v !== undefined), e(
      'expected at least one allow rule',
      'add e.g. repository: [acme/payments]; without rules every repository using this issuer would be let in',
    )),
  groups: stringList('list the groups a matching workload gets'),
}, e('expected a mapping', 'see docs/configuration.md, identity.workload_issuers'));

const identitySchema = z
  .strictObject({
    issuer: text("set your IdP's issuer URL, e.g. https://login.example.com"),
    cli_client_id: text('set the public OAuth client id the CLI uses').default('hoop-cli'),
    audience: text('set the audience your IdP puts in access tokens for hoop'),
    audience_param: flag('use true for Auth0, which issues an access token for an API only when asked with audience=…'),
    groups_claim: text('name the token claim that lists the user\'s groups').default('groups'),
    username_claims: z
      .array(text('list claim names'), e('expected a list of claim names', 'e.g. [preferred_username, email, sub]'))
      .min(1, e('expected at least one claim name', 'e.g. [preferred_username, email, sub]'))
      .default(['preferred_username', 'email', 'sub']),
    scopes: z
      .array(text('list OAuth scopes'), e('expected a list of scopes', 'e.g. [openid, profile, offline_access]'))
      .refine((s) => s.includes('openid'), e('expected the list to include openid', 'add openid to identity.scopes'))
      .default(['openid', 'profile', 'offline_access']),
    allow_insecure_http: flag('use true only for a development IdP on http://'),
    clock_skew: duration('set the tolerated clock difference with the IdP, e.g. 30s').default('30s'),
    workload_issuers: z.array(workloadIssuerSchema, e('expected a list', 'see docs/configuration.md')).default([]),
  }, e('expected a mapping', 'add an identity: section with at least issuer and audience'))
  .superRefine((id, ctx) => {
    if (id.issuer === '') return; // already reported as empty
    const url = URL.canParse(id.issuer) ? new URL(id.issuer) : undefined;
    const ok = url !== undefined && (url.protocol === 'https:' || (url.protocol === 'http:' && id.allow_insecure_http));
    if (!ok) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        input: id.issuer,
        message: url?.protocol === 'http:'
          ? problem('expected an https URL', 'use https, or set identity.allow_insecure_http: true for a development IdP')
          : problem('expected an https URL', "set your IdP's issuer URL, e.g. https://login.example.com"),
      });
    }
  })
  .transform((id) => ({ ...id, clock_skew_ms: parseDuration(id.clock_skew) }));

// No group gets a role unless named here: a default name (say `admins`) would hand the role to whoever can
// create or join a group of that name at the IdP.
const rolesSchema = z.strictObject({
  admins: stringList('list the groups whose members administer hoop').default([]),
  auditors: stringList('list the groups whose members may read sessions and audit logs').default([]),
}, e('expected a mapping', 'e.g. roles: { admins: [platform-admins], auditors: [security] }'));

const grantsSchema = z
  .strictObject({
    default_ttl: duration('set how long a grant lasts when no duration is asked for, e.g. 1h').default('1h'),
    max_ttl: duration('set the longest grant anyone may get, e.g. 12h').default('12h'),
  }, e('expected a mapping', 'e.g. grants: { default_ttl: 1h, max_ttl: 12h }'))
  .transform((g, ctx) => {
    const out = { ...g, default_ttl_ms: parseDuration(g.default_ttl), max_ttl_ms: parseDuration(g.max_ttl) };
    if (out.default_ttl_ms > out.max_ttl_ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['default_ttl'],
        input: g.default_ttl,
        message: problem(`expected at most grants.max_ttl (${g.max_ttl})`, 'lower grants.default_ttl or raise grants.max_ttl'),
      });
    }
    return out;
  });

const upstreamTlsSchema = z.strictObject({
  mode: z
    .enum(UPSTREAM_TLS_MODES, e('expected disable, require or verify-full', 'verify-full checks the certificate and host name; use disable only on a trusted network'))
    .default('verify-full'),
  ca_file: text('set the path of a PEM file with the CA that signed the target\'s certificate').optional(),
}, e('expected a mapping', 'e.g. tls: { mode: verify-full, ca_file: /etc/ssl/db-ca.pem }'));

const connectionSchema = z.strictObject({
  name: z
    .string(e('expected a name', 'name the connection, e.g. shop'))
    .regex(CONNECTION_NAME, e('expected 1-63 of a-z 0-9 _ -, starting with a letter or digit', 'rename the connection, e.g. payments-db')),
  type: z.literal('postgres', e('expected postgres', 'set type: postgres (the only type supported for now)')),
  description: z.string(e('expected a string', 'describe the connection in one line')).optional(),
  host: text("set the target's host name or IP address"),
  // A port may come from a secret reference (`${env:DB_PORT}`), which is text: digits are read as a number.
  port: z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z
    .number(e('expected an integer 1-65535', "set the target's TCP port"))
    .int(e('expected an integer 1-65535', "set the target's TCP port"))
    .min(1, e('expected an integer 1-65535', "set the target's TCP port"))
    .max(65535, e('expected an integer 1-65535', "set the target's TCP port"))
    .default(5432)),
  database: text('name the database on the target'),
  user: text('set the database user hoop logs in as'),
  /** Usually `${env:NAME}` or `${file:PATH}`; an inline value is accepted but never printed. */
  password: z.string(e('expected a string', 'reference the password as ${env:NAME} or ${file:PATH}')).optional(),
  tls: upstreamTlsSchema.prefault({}),
  access: z.strictObject({
    groups: stringList('list the groups allowed to request access; [] allows no one'),
    /** Defaults to grants.max_ttl, and may not exceed it. */
    max_duration: duration('set the longest grant for this connection, e.g. 8h').optional(),
    /** Just-in-time access: these groups' grants wait for an approver. */
    require_approval: z.strictObject({
      groups: stringList('list the groups whose access needs approval'),
      approvers: stringList('list the groups whose members may approve'),
      max_duration: duration('set the longest window an approver can grant, e.g. 2h').default('2h'),
      timeout: duration('set how long a request waits for a decision, e.g. 1h').default('1h'),
    }, e('expected a mapping', 'e.g. require_approval: { groups: [contractors], approvers: [dba], max_duration: 2h }'))
      .transform((r) => ({ ...r, max_duration_ms: parseDuration(r.max_duration), timeout_ms: parseDuration(r.timeout) }))
      .optional(),
  }, e('expected a mapping', 'e.g. access: { groups: [engineers], max_duration: 8h }')),
  guardrails: guardrailsSchema.optional(),
  approvals: approvalsSchema.optional(),
  masking: maskingSchema.optional(),
  webhook_url: httpUrl('expected an http(s) URL', 'set the URL that receives this connection\'s events', ['https:', 'http:'])
    // The events name requesters and carry statements and reasons: they cross the network encrypted. Plain
    // http is left for a receiver on this machine (a local relay, a test).
    .refine((s) => !isRemotePlainHttp(s), e(
      'expected an https URL',
      'use https; plain http is accepted only for a loopback host (127.0.0.1, ::1, localhost)',
    ))
    .optional(),
}, e('expected a mapping', 'see docs/configuration.md, connections'));

const serverTlsSchema = z.strictObject({
  cert_file: text('set the path of the PEM certificate (chain) to serve'),
  key_file: text('set the path of the PEM private key for cert_file'),
}, e('expected a mapping', 'e.g. tls: { cert_file: /etc/hoop/tls.crt, key_file: /etc/hoop/tls.key }'));

const auditSchema = z.strictObject({
  /** Rows kept per statement of what the client received (after masking). */
  returned_rows: z.number(e('expected a whole number', 'e.g. returned_rows: 1000')).int().min(0).default(1000),
  /** Bytes kept per statement of what the client received. */
  returned_bytes: z.number(e('expected a whole number of bytes', 'e.g. returned_bytes: 1048576')).int().min(0).default(1024 * 1024),
  /** Returned-data payloads older than this are deleted; records, hashes and checkpoints are kept. */
  retention: z.strictObject({
    returned_data: duration('set how long returned rows are kept, e.g. 30d').default('30d'),
  }, e('expected a mapping', 'e.g. retention: { returned_data: 30d }')).prefault({}),
  /** Sign a checkpoint after this many records… */
  checkpoint_every: z.number(e('expected a whole number', 'e.g. checkpoint_every: 1000')).int().min(1).default(1000),
  /** …or this long after the last one, whichever comes first (and at shutdown). */
  checkpoint_interval: duration('set how often a checkpoint is signed, e.g. 60s').default('60s'),
  /** Wait for the audit commit to reach disk before a statement runs (off trades a crash window for latency). */
  synchronous_commit: flag('set false only if a crash may lose the last moments of audit records').default(true),
}, e('expected a mapping', 'see docs/configuration.md, audit'))
  .transform((a) => ({ ...a, retention_ms: parseDuration(a.retention.returned_data), checkpoint_interval_ms: parseDuration(a.checkpoint_interval) }));

const LISTEN_FIX = 'use host:port, e.g. 127.0.0.1:8009 or [::1]:8009';

export const gatewayConfigSchema = z
  .strictObject({
    listen: z
      .string(e('expected host:port', LISTEN_FIX))
      .refine((s) => parseListen(s) !== undefined, e('expected host:port', LISTEN_FIX))
      .default('127.0.0.1:8009'),
    /** Lets a non-loopback `listen` serve plain HTTP (e.g. behind a TLS-terminating load balancer). */
    allow_insecure_listen: flag('set true only when a TLS-terminating proxy sits in front of the gateway'),
    /**
     * Proxies (IP addresses or CIDR ranges) in front of the gateway whose `X-Forwarded-For` names the client. From
     * any other peer the header is ignored, and the socket's address is what the evidence records.
     */
    trusted_proxies: z
      .array(
        z.string(e('expected an IP address or CIDR range', 'e.g. 10.0.0.5 or 10.0.0.0/24'))
          .refine(isAddressOrCidr, e('expected an IP address or CIDR range', 'e.g. 10.0.0.5, 10.0.0.0/24 or fd00::/8 (no host names)')),
        e('expected a list of IP addresses or CIDR ranges', 'e.g. trusted_proxies: [10.0.0.0/24]'),
      )
      .default([]),
    /** Derived from `listen` (https when `tls` is set) when left out. */
    public_url: httpUrl('expected an http(s) URL', 'set the URL users and agents reach the gateway at, e.g. https://hoop.example.com', ['https:', 'http:']).optional(),
    data_dir: text('set a directory the gateway may write to').default('~/.local/share/hoop/gateway'),
    /** Without it the gateway runs an embedded PostgreSQL under `data_dir`. */
    database_url: z
      .string(e('expected a postgres:// URL', 'set the PostgreSQL URL, e.g. postgres://hoop:${env:PW}@db:5432/hoop'))
      .refine(
        // `postgres:/x` and `postgres:x` parse as URLs too (with no host: pg would then quietly use localhost).
        (s) => /^postgres(ql)?:\/\//i.test(s) && URL.canParse(s) && (new URL(s).host !== '' || new URL(s).searchParams.has('host')),
        // Most often a password written into the URL with a character a URL reserves.
        e('expected a postgres:// URL', 'set the PostgreSQL URL, e.g. postgres://hoop:${env:PW}@db:5432/hoop (a reference is encoded for you; a password written into the URL itself must be percent-encoded: / as %2F, @ as %40, # as %23, ? as %3F)'),
      )
      .optional(),
    /** How long a connection to the gateway's database may take to open (embedded or database_url). */
    database_connect_timeout: duration('set how long connecting to the gateway\'s database may take, e.g. 10s').default('10s'),
    tls: serverTlsSchema.optional(),
    log: z.strictObject({
      level: z.enum(LOG_LEVELS, e('expected trace, debug, info, warn or error', 'pick one of those levels')).default('info'),
    }, e('expected a mapping', 'e.g. log: { level: info }')).prefault({}),
    /** `GET /metrics` in the Prometheus text format, on an address of its own; no metrics listener when left out. */
    metrics: z.strictObject({
      listen: z
        .string(e('expected host:port', 'e.g. metrics: { listen: 127.0.0.1:9464 }'))
        .refine((s) => parseListen(s) !== undefined, e('expected host:port', 'e.g. metrics: { listen: 127.0.0.1:9464 }')),
      /** Lets a non-loopback `metrics.listen` serve them (plain HTTP) to the network. */
      allow_remote: flag('set true only when scrapers reach the gateway over a network you trust'),
    }, e('expected a mapping', 'e.g. metrics: { listen: 127.0.0.1:9464 }')).optional(),
    identity: identitySchema,
    roles: rolesSchema.prefault({}),
    grants: grantsSchema.prefault({}),
    audit: auditSchema.prefault({}),
    connections: z.array(connectionSchema, e('expected a list of connections', 'see docs/configuration.md, connections')).default([]),
  }, e('expected a mapping of keys', 'see docs/configuration.md'))
  .superRefine((cfg, ctx) => {
    const listen = parseListen(cfg.listen);
    if (listen && !isLoopbackHost(listen.host) && !cfg.tls && !cfg.allow_insecure_listen) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        input: cfg.listen,
        message: problem(
          'expected a loopback address when tls is not set',
          'add tls: { cert_file, key_file }, or set allow_insecure_listen: true if a TLS proxy sits in front',
        ),
      });
    }
    const metricsListen = cfg.metrics ? parseListen(cfg.metrics.listen) : undefined;
    if (metricsListen && !isLoopbackHost(metricsListen.host) && !cfg.metrics?.allow_remote) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'listen'],
        input: cfg.metrics?.listen,
        message: problem(
          'expected a loopback address',
          'metrics are served over plain HTTP: set metrics.allow_remote: true if scrapers reach it over a network you trust',
        ),
      });
    }
    if (listen && isUnspecifiedHost(listen.host) && cfg.public_url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['public_url'],
        message: problem(
          `expected a value when listen is ${cfg.listen}`,
          'set public_url to the address users reach the gateway at, e.g. https://hoop.example.com',
        ),
      });
    }
    const seen = new Map<string, number>();
    cfg.connections.forEach((c, i) => {
      const first = seen.get(c.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['connections', i, 'name'],
          input: c.name,
          message: problem(`expected a unique name (connections[${first}] has it too)`, 'rename one of them'),
        });
      } else {
        seen.set(c.name, i);
      }
      const maxMs = c.access.max_duration === undefined ? undefined : durationMs(c.access.max_duration);
      if (maxMs !== undefined && maxMs > cfg.grants.max_ttl_ms) {
        ctx.addIssue({
          code: 'custom',
          path: ['connections', i, 'access', 'max_duration'],
          input: c.access.max_duration,
          message: problem(`expected at most grants.max_ttl (${cfg.grants.max_ttl})`, 'lower it, or raise grants.max_ttl'),
        });
      }
    });
  })
  .transform((cfg) => {
    const listen = parseListen(cfg.listen)!;
    const urlHost = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    const derivedUrl = `${cfg.tls ? 'https' : 'http'}://${urlHost}:${listen.port}`;
    return {
      ...cfg,
      listen_host: listen.host,
      listen_port: listen.port,
      database_connect_timeout_ms: parseDuration(cfg.database_connect_timeout),
      public_url: (cfg.public_url ?? derivedUrl).replace(/\/+$/, ''),
      connections: cfg.connections.map((c) => {
        const maxDuration = c.access.max_duration ?? cfg.grants.max_ttl;
        return { ...c, access: { ...c.access, max_duration: maxDuration, max_duration_ms: parseDuration(maxDuration) } };
      }),
    };
  });

/** Keys the schema adds to the parsed config; they are not valid in a file (printConfig leaves them out). */
export const DERIVED_KEYS: ReadonlySet<string> = new Set([
  'listen_host', 'listen_port', 'default_ttl_ms', 'max_ttl_ms', 'clock_skew_ms', 'max_duration_ms', 'timeout_ms',
  'retention_ms', 'checkpoint_interval_ms', 'database_connect_timeout_ms',
]);

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The file's shape before defaults (what YAML and `overrides` provide). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** The parsed, defaulted and deep-frozen configuration. */
export type GatewayConfig = DeepReadonly<z.output<typeof gatewayConfigSchema>>;
export type ConnectionConfig = GatewayConfig['connections'][number];
export type WorkloadIssuerConfig = GatewayConfig['identity']['workload_issuers'][number];

/** `connections[0].port` style, for messages. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}
