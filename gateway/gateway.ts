/**
 * Starts a gateway from a parsed config: its database (embedded or external), migrations, keys, identity,
 * grants, recording, the PostgreSQL engine and the HTTP(S) server with the tunnel endpoint. This is the one
 * place where the gateway's parts are wired together (used by `hoop gateway start`, `hoop demo` and tests).
 */
import { createHash, hkdfSync } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { HoopError, toProblem } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { isLoopbackHost, parseListen, type GatewayConfig } from './config/schema.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './store/embedded.js';
import { createDatabaseIfMissing, databaseUrl, type Database } from './store/db.js';
import { openStateDatabase, stateDatabaseError } from './store/state-database.js';
import { migrations } from './store/migrations/index.js';
import { loadMasterKey } from './crypto/master-key.js';
import { localSecret } from './crypto/local-secret.js';
import { loadOrCreateSigningKey } from './grants/signing-key.js';
import { GrantService } from './grants/grant-service.js';
import { GrantWatcher } from './grants/grant-watcher.js';
import { createAccessTokenVerifier } from './identity/verify-access-token.js';
import { createWorkloadVerifier } from './identity/workload.js';
import { SubjectBindings } from './identity/subject-bindings.js';
import { ConnectionCatalog, type Connection } from './connections/connection.js';
import { PostgresRecorder } from './recording/recorder.js';
import { AuditLog } from './audit/audit-log.js';
import { Checkpointer } from './audit/checkpointer.js';
import { pruneOldPayloads } from './audit/reader.js';
import { ClusterNotifier } from './store/notifier.js';
import { ReviewService } from './reviews/review-service.js';
import { createWebhookEvents } from './reviews/webhook.js';
import { PostgresEngine } from './engines/postgres/engine.js';
import { parseRemoteCancel, type CancelRelay } from './engines/postgres/cancel-registry.js';
import { createApi } from './server/api.js';
import { createSqlParser } from './policy/sql/parser.js';
import { toApprovalRules, toGuardrailPolicy } from './policy/config-schema.js';
import { toMaskingRules } from './config/masking-schema.js';
import { createCatalog } from './engines/postgres/catalog.js';
import { TunnelEndpoint } from './server/tunnel-endpoint.js';
import { certificateWarnings, issuerProblem } from './startup-checks.js';
import { roleWarnings } from './config/role-warnings.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { startMetricsServer } from './metrics/metrics-server.js';

export const GATEWAY_VERSION = '0.1.0';

export interface StartGatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Environment for `master_key` lookups (HOOP_MASTER_KEY). */
  env: Readonly<Record<string, string | undefined>>;
  now?: () => Date;
  /** How often live tunnels' grants are re-checked (revocation reaches tunnels within this). */
  grantCheckIntervalMs?: number;
  readFile?: (path: string) => Promise<string>;
}

export interface RunningGateway {
  url: string;
  port: number;
  /** The metrics listener's port, when `metrics.listen` is set. */
  metricsPort?: number;
  db: Database;
  /** Stops accepting, ends live sessions with a clear error, flushes records, stops the embedded database. */
  close(): Promise<void>;
}

export async function startGateway(o: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger } = o;
  const now = o.now ?? (() => new Date());
  const read = o.readFile ?? ((p: string) => readFile(p, 'utf8'));
  const cleanups: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => logger.warn('shutdown step failed', { error: e }));
  };

  try {
    // The address first: a port in use is reported before anything starts, and a port chosen by the system
    // (`listen: …:0`) is known to everything that names the gateway's URL. Requests wait for the rest (503).
    let handle: (req: IncomingMessage, res: ServerResponse) => void = notReady;
    const tls = config.tls ? { cert: await read(config.tls.cert_file), key: await read(config.tls.key_file) } : undefined;
    const server: Server = tls ? createHttpsServer(tls, (req, res) => handle(req, res)) : createHttpServer((req, res) => handle(req, res));
    server.keepAliveTimeout = 65_000;
    await listen(server, config);
    const stopServing = async (): Promise<void> => {
      if (!server.listening) return;
      handle = notReady;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    };
    cleanups.push(stopServing); // when start-up fails part way
    const port = (server.address() as AddressInfo).port;
    const publicUrl = config.listen_port === 0 ? config.public_url.replace(/:0$/, `:${port}`) : config.public_url;

    // Database: external when configured, else an embedded server under the data dir. The data dir is made only
    // when something is kept there: the embedded server and its password here, a generated master key (when
    // HOOP_MASTER_KEY is not set) by loadMasterKey. With database_url and HOOP_MASTER_KEY, nothing is.
    let dbUrl = config.database_url;
    if (!dbUrl) {
      if (!isLoopbackHost(config.listen_host)) {
        // Listening for others, yet keeping its state on this machine alone: most often HOOP_DATABASE_URL did not
        // reach the process. Said at start, since everything then works until a second instance or a rebuild.
        logger.warn('no database_url: this gateway keeps its state (grants, sessions, the audit chain) in an embedded PostgreSQL on this machine only', {
          data_dir: config.data_dir,
          hint: 'a gateway for a team sets database_url (or HOOP_DATABASE_URL) to its PostgreSQL; instances sharing one database share their state',
        });
      }
      await mkdir(config.data_dir, { recursive: true, mode: 0o700 });
      const pg: EmbeddedPostgres = await startEmbeddedPostgres({
        dataDir: join(config.data_dir, 'postgres'),
        logger,
        password: await localSecret(join(config.data_dir, 'postgres.password')),
      });
      cleanups.push(() => pg.stop());
      await createDatabaseIfMissing(pg.url, 'hoop');
      dbUrl = databaseUrl(pg.url, 'hoop');
    }
    const db = await openStateDatabase({
      url: dbUrl,
      setting: config.database_url ? 'database_url' : undefined,
      logger,
      migrations,
      max: 20,
      connectTimeoutMs: config.database_connect_timeout_ms,
    });
    cleanups.push(() => db.close());

    const masterKey = await loadMasterKey({
      configured: o.env.HOOP_MASTER_KEY,
      env: o.env,
      dataDir: config.data_dir,
      sealedKeysExist: async () => (await db.query('SELECT 1 FROM gateway_keys LIMIT 1')).rows.length > 0,
    });
    const key = await loadOrCreateSigningKey(db, masterKey);
    const catalog = new ConnectionCatalog(await Promise.all(config.connections.map((c) => toConnection(c, read))));

    // The evidence: one hash chain in the database, checkpoints signed with the gateway's key.
    const checkpointer = new Checkpointer({
      db, key, logger, now, everyRecords: config.audit.checkpoint_every, everyMs: config.audit.checkpoint_interval_ms,
    });
    const metrics = new GatewayMetrics({ version: GATEWAY_VERSION });
    const audit = new AuditLog({ db, logger, now, checkpointer, synchronousCommit: config.audit.synchronous_commit, observer: metrics });
    checkpointer.start();
    cleanups.push(() => audit.close()); // runs after the recorder and sessions below: flush, then a final checkpoint
    const recorder = new PostgresRecorder({ db, logger, audit, observer: metrics });
    cleanups.push(() => recorder.close());
    await recorder.event('config.loaded', null, configSummary(config, publicUrl));
    const prune = async (): Promise<void> => {
      const n = await pruneOldPayloads(db, new Date(now().getTime() - config.audit.retention_ms)).catch((e: unknown) => {
        logger.warn('pruning returned data failed', { error: e });
        return 0;
      });
      if (n) logger.info('pruned returned data past retention', { payloads: n });
    };
    void prune();
    const pruneTimer = setInterval(() => void prune(), 3_600_000);
    pruneTimer.unref();
    cleanups.push(async () => clearInterval(pruneTimer));

    const roles = { admins: config.roles.admins, auditors: config.roles.auditors };
    for (const w of roleWarnings(config.roles)) logger.warn(w);
    const notifier = new ClusterNotifier(logger, { connectTimeoutMs: config.database_connect_timeout_ms });
    await notifier.listen(dbUrl).catch((e: unknown) => {
      throw config.database_url
        ? stateDatabaseError(e, { url: dbUrl, setting: 'database_url', connectTimeoutMs: config.database_connect_timeout_ms, phase: 'connect' })
        : e;
    });
    cleanups.push(() => notifier.close());
    const webhooks = createWebhookEvents({ logger, urlFor: (name) => catalog.get(name)?.webhookUrl });
    const reviews = new ReviewService({
      db, notifier, roles, logger, now,
      events: {
        reviewEvent: (kind, review) => {
          webhooks.reviewEvent(kind, review);
          const actor = kind === 'created' ? review.requester : (review.decisions.at(-1)?.approver ?? null);
          recorder.event(`review.${kind}`, actor, { review }, { connection: review.connection })
            .catch((e: unknown) => logger.error('cannot record a review event', { error: e }));
        },
      },
    });
    const grants = new GrantService({
      // The configured URL, not the port this instance was given: instances sharing a database (and its key)
      // accept each other's grants, which a per-instance port in the issuer would break.
      db, key, issuer: config.public_url, roles, audit: recorder, now, reviews,
      defaultTtlMs: config.grants.default_ttl_ms,
      maxTtlMs: config.grants.max_ttl_ms,
      connection: (name) => {
        const c = catalog.get(name);
        return c ? { name: c.name, type: c.type, accessGroups: c.accessGroups, maxDurationMs: c.maxDurationMs, ...(c.requireApproval ? { requireApproval: c.requireApproval } : {}) } : undefined;
      },
    });
    const watcher = new GrantWatcher({ grants, logger, now, intervalMs: o.grantCheckIntervalMs ?? 1000 });
    watcher.start();
    const offGrants = notifier.onGrantChanged(() => void watcher.tick());
    cleanups.push(async () => offGrants());
    cleanups.push(async () => watcher.close());

    // A subject name belongs to the first account that presents it (gateway/identity/subject-bindings.ts).
    const bindings = new SubjectBindings(db);
    const verifyAccessToken = bindings.guard(createAccessTokenVerifier({
      issuer: config.identity.issuer,
      audience: config.identity.audience,
      groupsClaim: config.identity.groups_claim,
      usernameClaims: config.identity.username_claims,
      clockSkewSeconds: Math.round(config.identity.clock_skew_ms / 1000),
      allowInsecureHttp: config.identity.allow_insecure_http,
      now,
    }));

    const verifyWorkloadToken = config.identity.workload_issuers.length
      ? bindings.guard(createWorkloadVerifier({
          issuers: config.identity.workload_issuers,
          clockSkewSeconds: Math.round(config.identity.clock_skew_ms / 1000),
          allowInsecureHttp: config.identity.allow_insecure_http,
          now,
        }))
      : undefined;

    const api = createApi({
      logger, db, verifyAccessToken, grants, reviews, catalog, roles, now, recorder, signingKey: key, trustedProxies: config.trusted_proxies,
      checkpoint: async () => {
        await audit.flush();
        await checkpointer.checkpoint();
      },
      ...(verifyWorkloadToken ? { verifyWorkloadToken } : {}),
      wellKnown: {
        public_url: publicUrl,
        issuer: config.identity.issuer,
        cli_client_id: config.identity.cli_client_id,
        audience: config.identity.audience,
        ...(config.identity.audience_param ? { audience_param: true } : {}),
        scopes: [...config.identity.scopes],
        grant_jwks: { keys: [key.publicJwk as Record<string, unknown>] },
        version: GATEWAY_VERSION,
      },
    });
    // Policy: one parser for every session (loaded once), per-connection rules, and a catalog where masking needs origins.
    const parser = await createSqlParser();
    cleanups.push(() => parser.close());
    const policies = new Map(config.connections.map((c) => {
      const masking = toMaskingRules(c.masking);
      const target = catalog.get(c.name)!;
      return [c.name, {
        policy: { parser, cache: new Map(), guardrails: toGuardrailPolicy(c.guardrails), approvals: toApprovalRules(c.approvals), masking },
        catalog: masking ? createCatalog(target, logger) : null,
      }];
    }));
    cleanups.push(async () => {
      for (const p of policies.values()) await p.catalog?.close();
    });
    const hashKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'hoop masking hash key v1', 32));

    const cancelRelay: CancelRelay = {
      publish: (r) => notifier.publishCancel(db, JSON.stringify(r)),
      subscribe: (listener) => notifier.onCancel((payload) => {
        const r = parseRemoteCancel(payload);
        if (r) listener(r);
      }),
    };
    const engines = { postgres: new PostgresEngine({ logger, cancelRelay, catalogFor: (name) => policies.get(name)?.catalog ?? null }) };
    const tunnels = new TunnelEndpoint({
      logger, grants, watcher, catalog, engines, recorder, now, reviews, hashKey,
      capture: { rows: config.audit.returned_rows, bytes: config.audit.returned_bytes },
      trustedProxies: config.trusted_proxies,
      policyFor: (name) => policies.get(name)!.policy,
    });

    tunnels.attach(server);
    handle = api.handle;
    cleanups.push(async () => {
      // Shutting down: live sessions end with a clear error, and nothing new is accepted, before the rest stops.
      await tunnels.close(new HoopError('interrupted', 'the gateway is shutting down', { hint: 'reconnect in a moment' }));
      await stopServing();
    });
    let metricsPort: number | undefined;
    if (config.metrics) {
      const at = parseListen(config.metrics.listen)!;
      const served = await startMetricsServer({ host: at.host, port: at.port, registry: metrics.registry, logger });
      cleanups.push(() => served.close());
      metricsPort = served.port;
    }
    const url = publicUrl;
    logger.info('gateway listening', { url, listen: `${config.listen_host}:${port}`, connections: catalog.all().map((c) => c.name) });
    if (tls) for (const w of certificateWarnings(tls.cert, publicUrl, now())) logger.warn(w);
    // Not a reason to stop (the provider may come back), but the first login would fail: say so now.
    void issuerProblem(config.identity.issuer).then((why) => {
      if (why) logger.warn(`the identity provider cannot be used now: logins and API calls will fail until it can (${why})`, { issuer: config.identity.issuer });
    });
    return { url, port, ...(metricsPort === undefined ? {} : { metricsPort }), db, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Binds the gateway's address; a busy or forbidden address is a configuration problem. */
function listen(server: Server, config: GatewayConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(new HoopError('config_invalid', `cannot listen on ${config.listen}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.message}`, {
        cause: e,
        hint: e.code === 'EADDRINUSE' ? 'stop the other process, or set listen (or HOOP_LISTEN) to another port' : undefined,
      }));
    });
    server.listen(config.listen_port, config.listen_host, () => resolve());
  });
}

/** What the gateway answers while it is starting (its address is bound before its database is up) or stopping. */
function notReady(_req: IncomingMessage, res: ServerResponse): void {
  const problem = toProblem(new HoopError('gateway_unreachable', 'the gateway is starting or stopping', { hint: 'try again in a moment' }));
  const text = JSON.stringify({ ...problem, status: 503 });
  res.writeHead(503, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(text), 'retry-after': '1', 'cache-control': 'no-store' });
  res.end(text);
}

async function toConnection(c: GatewayConfig['connections'][number], read: (p: string) => Promise<string>): Promise<Connection> {
  return {
    name: c.name,
    type: c.type,
    ...(c.description ? { description: c.description } : {}),
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    password: c.password ?? '',
    tls: { mode: c.tls.mode, ...(c.tls.ca_file ? { ca: await read(c.tls.ca_file) } : {}) },
    accessGroups: c.access.groups,
    maxDurationMs: c.access.max_duration_ms,
    ...(c.access.require_approval ? {
      requireApproval: {
        groups: c.access.require_approval.groups,
        approvers: c.access.require_approval.approvers,
        maxDurationMs: c.access.require_approval.max_duration_ms,
        timeoutMs: c.access.require_approval.timeout_ms,
      },
    } : {}),
    ...(c.webhook_url ? { webhookUrl: c.webhook_url } : {}),
    defaultLocalPort: 5433,
  };
}


/** What the audit log keeps of the configuration at each start: connections and their policies, no secrets. */
function configSummary(config: GatewayConfig, publicUrl: string): Record<string, unknown> {
  const connections = config.connections.map((c) => ({
    name: c.name, type: c.type, host: c.host, port: c.port, database: c.database, user: c.user, tls: c.tls.mode,
    access: c.access, guardrails: c.guardrails ?? null, approvals: c.approvals ?? null, masking: c.masking ?? null,
  }));
  const json = JSON.stringify({ connections, roles: config.roles, grants: config.grants, identity: { issuer: config.identity.issuer, audience: config.identity.audience } });
  return { public_url: publicUrl, sha256: createHash('sha256').update(json).digest('hex'), connections: JSON.parse(json) as unknown };
}
