/**
 * `hoop demo` (what `npm start` runs): one embedded PostgreSQL holding the gateway's state and a `shop`
 * database, the dev identity provider with alice and bob, and the gateway on http://127.0.0.1:8009, then the
 * walkthrough. Everything lives under one data dir and listens on loopback only.
 */
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from '../../shared/log.js';
import { HoopError, isHoopError } from '../../shared/errors.js';
import { loadGatewayConfig } from '../config/load.js';
import { startEmbeddedPostgres } from '../store/embedded.js';
import { createDatabaseIfMissing, databaseUrl } from '../store/db.js';
import { createDevIdp } from '../dev-idp/provider.js';
import { DEMO_CLIENTS, DEMO_USERS } from '../dev-idp/users.js';
import { startGateway, type RunningGateway } from '../gateway.js';
import { seedShop } from './shop-data.js';
import { localSecret } from '../crypto/local-secret.js';

export interface DemoOptions {
  dataDir?: string;
  gatewayPort?: number;
  idpPort?: number;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
  print: (line: string) => void;
}

export interface RunningDemo {
  gateway: RunningGateway;
  issuer: string;
  ciClientSecret: string;
  close(): Promise<void>;
}

export function defaultDemoDir(env: Readonly<Record<string, string | undefined>>): string {
  return env.HOOP_DEMO_DIR ?? join(env.HOME ?? homedir(), '.local', 'share', 'hoop', 'demo');
}

export async function startDemo(o: DemoOptions): Promise<RunningDemo> {
  const dir = o.dataDir ?? defaultDemoDir(o.env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    // Before PostgreSQL, which takes a while: a busy port is reported at once.
    const idp = await createDevIdp({ port: o.idpPort ?? 8010, audience: 'hoop', users: DEMO_USERS, clients: DEMO_CLIENTS, logger: o.logger })
      .catch((e: unknown) => {
        throw withPortFlag(e, '--idp-port');
      });
    closers.push(() => idp.close());

    o.print(`Starting PostgreSQL (embedded) under ${dir} …`);
    const db = await startEmbeddedPostgres({ dataDir: join(dir, 'postgres'), logger: o.logger, password: await localSecret(join(dir, 'postgres.password')) });
    closers.push(() => db.stop());
    await createDatabaseIfMissing(db.url, 'hoop');
    await createDatabaseIfMissing(db.url, 'shop');
    const shopPassword = await localSecret(join(dir, 'shop-db.password'));
    await prepareShop(db.url, shopPassword);

    const config = loadGatewayConfig({
      env: { SHOP_DB_PASSWORD: shopPassword },
      yamlText: demoConfigYaml({ port: o.gatewayPort ?? 8009, dataDir: join(dir, 'gateway'), issuer: idp.issuer, dbPort: db.port }),
      overrides: { database_url: databaseUrl(db.url, 'hoop') },
    });
    const gateway = await startGateway({ config, logger: o.logger, env: o.env }).catch((e: unknown) => {
      throw withPortFlag(e, '--port');
    });
    closers.push(() => gateway.close());
    return { gateway, issuer: idp.issuer, ciClientSecret: idp.clientSecrets.get('ci-bot') ?? '', close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * A demo listener whose port is in use: the same error, with a hint naming the `hoop demo` flag that moves it
 * (the demo's own config is not the user's to edit, so the gateway's hint about `listen` does not apply).
 */
function withPortFlag(e: unknown, flag: string): unknown {
  if (!isHoopError(e) || (e.cause as NodeJS.ErrnoException | undefined)?.code !== 'EADDRINUSE') return e;
  return new HoopError(e.code, e.message, { cause: e, hint: `stop the other process, or run the demo with ${flag} set to a free port` });
}

function demoConfigYaml(p: { port: number; dataDir: string; issuer: string; dbPort: number }): string {
  return `
listen: 127.0.0.1:${p.port}
data_dir: ${JSON.stringify(p.dataDir)}
identity:
  issuer: ${p.issuer}
  audience: hoop
  allow_insecure_http: true   # the dev IdP runs on loopback http
roles: { admins: [admins], auditors: [auditors] }
grants: { default_ttl: 1h, max_ttl: 8h }
connections:
  - name: shop
    type: postgres
    description: demo shop (generated customers, cards and orders)
    host: 127.0.0.1
    port: ${p.dbPort}
    database: shop
    user: hoop_rw
    password: \${env:SHOP_DB_PASSWORD}
    tls: { mode: disable }     # loopback inside the demo
    access: { groups: [engineers, dba, ci-deployers], max_duration: 8h }
    guardrails:
      block:
        - ddl
        - truncate
        - delete_without_where
        - update_without_where
        - copy_program
        - grant
        - { function: pg_terminate_backend }
        - { function: pg_read_file }
        - { function: pg_read_binary_file }
        - { function: lo_export }
        - { function: dblink }
    approvals:
      - name: writes-need-a-dba
        match: { statements: [delete, update] }
        approvers: [dba]
        timeout: 10m
    masking:
      columns: { public.customers.email: partial, "*.card_number": partial, public.customers.phone: partial }
      detectors: [email, credit_card, iban, us_ssn, phone, secret]
`;
}

/** Creates the gateway's login role for `shop` (SCRAM password) and the demo data. */
async function prepareShop(adminUrl: string, password: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = 'hoop_rw'`);
    const verb = exists.rowCount ? 'ALTER' : 'CREATE';
    await admin.query(`SET password_encryption = 'scram-sha-256'`);
    await admin.query(`${verb} ROLE hoop_rw LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    await admin.query('ALTER DATABASE shop OWNER TO hoop_rw');
  } finally {
    await admin.end();
  }
  const shop = new pg.Client({ connectionString: databaseUrl(adminUrl, 'shop').replace(/\/\/[^@]*@/, `//hoop_rw:${encodeURIComponent(password)}@`) });
  await shop.connect();
  try {
    await seedShop(shop);
  } finally {
    await shop.end();
  }
}


export function walkthrough(gatewayUrl: string, issuer: string, ciSecret: string): string {
  return `
hoop demo is running.

  gateway            ${gatewayUrl}
  identity provider  ${issuer}   (users: alice/alice in engineers; bob/bob in dba, admins and auditors)
  connection         shop        (PostgreSQL: customers, cards, orders with generated personal data)
  policies on shop   emails, cards and phones masked; DDL and unbounded DELETE/UPDATE blocked;
                     every other DELETE/UPDATE waits for a dba to approve

In another terminal, from this directory (or run \`npm link\` once and type hoop instead of node bin/hoop):

  An engineer (alice)
    1. Log in (a browser opens; add --no-browser to open the printed URL yourself, or use --device):
         node bin/hoop login --gateway ${gatewayUrl}
    2. Open a tunnel; the agent starts in the background and listens on 127.0.0.1:5433:
         node bin/hoop connect shop
    3. In a third terminal, query through it. No password: your identity came with the grant.
         psql "postgresql://alice@127.0.0.1:5433/shop?sslmode=disable"
           SELECT name, email, phone FROM customers LIMIT 3;   -- masked
           DROP TABLE orders;                                  -- blocked
           DELETE FROM orders WHERE id = 7;                    -- waits for bob (the NOTICE names the review)

  An approver and auditor (bob), in a separate config dir so his login does not replace alice's
         export HOOP_CONFIG_DIR=/tmp/hoop-bob
         node bin/hoop login --gateway ${gatewayUrl}        (sign in as bob / bob)
         node bin/hoop approve                               (pick alice's DELETE: a approves; her psql prints DELETE 1)
         node bin/hoop sessions --user alice
         node bin/hoop sessions replay <id>                  (masked rows as alice saw them, the block, the approval)
         node bin/hoop audit verify                          (the tamper-evident chain and its signed checkpoints)
         node bin/hoop audit export --out /tmp/evidence && node bin/hoop audit verify --bundle /tmp/evidence
       Auditors read the evidence but may not connect themselves.

  A CI job (no browser: a client-credentials token from the IdP in HOOP_TOKEN)
         export CI_BOT_SECRET=${ciSecret}
         export HOOP_TOKEN=$(curl -sf -u "ci-bot:$CI_BOT_SECRET" -d grant_type=client_credentials -d resource=urn:hoop:hoop ${issuer}/token | jq -r .access_token)
         node bin/hoop exec shop -i "SELECT status, count(*) FROM orders GROUP BY status" --format table
         node bin/hoop exec shop -i "DROP TABLE orders"; echo "exit $?"     (5: blocked)

Press Ctrl-C here to stop the demo.
`;
}
