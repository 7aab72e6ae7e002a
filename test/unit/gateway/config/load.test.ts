import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { ENV_OVERRIDES, loadGatewayConfig, printConfig } from '../../../../gateway/config/load.js';
import type { LoadGatewayConfigOptions } from '../../../../gateway/config/load.js';
import { HoopError } from '../../../../shared/errors.js';

const IDENTITY = 'identity: { issuer: https://login.example.com, audience: hoop }\n';
/** A real certificate and its key (made by the test setup with openssl), and the CA that signed it. */
const CERT = readFileSync(inject('tlsCertFile'), 'utf8');
const KEY = readFileSync(inject('tlsKeyFile'), 'utf8');
const CA = readFileSync(inject('pgTlsCaFile'), 'utf8');

function reader(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const v = files[path];
    if (v === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return v;
  };
}

function load(options: Partial<LoadGatewayConfigOptions>) {
  return loadGatewayConfig({ env: { HOME: '/home/ann' }, cwd: '/work', ...options });
}

function problemsOf(err: HoopError): string[] {
  return err.details!.problems as string[];
}

function errorOf(fn: () => unknown): HoopError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HoopError);
    expect((err as HoopError).code).toBe('config_invalid');
    return err as HoopError;
  }
  throw new Error('expected an error');
}

describe('precedence: flags > HOOP_* env > file > defaults', () => {
  const file = IDENTITY + 'listen: 127.0.0.1:1111\nlog: { level: warn }\ndata_dir: /from/file\n';

  it.each([
    ['defaults', undefined, {}, undefined, '127.0.0.1:8009'],
    ['file', file, {}, undefined, '127.0.0.1:1111'],
    ['env over file', file, { HOOP_LISTEN: '127.0.0.1:2222' }, undefined, '127.0.0.1:2222'],
    ['empty env is ignored', file, { HOOP_LISTEN: '' }, undefined, '127.0.0.1:1111'],
    ['flag over env', file, { HOOP_LISTEN: '127.0.0.1:2222' }, { listen: '127.0.0.1:3333' }, '127.0.0.1:3333'],
  ])('%s', (_name, yamlText, env, overrides, listen) => {
    const text = yamlText ?? IDENTITY;
    const c = load({ yamlText: text, env: { HOME: '/home/ann', ...env }, ...(overrides ? { overrides } : {}) });
    expect(c.listen).toBe(listen);
  });

  it('applies every HOOP_* override', () => {
    const c = load({
      yamlText: IDENTITY,
      env: {
        HOME: '/home/ann',
        HOOP_LISTEN: '127.0.0.1:9999',
        HOOP_PUBLIC_URL: 'https://hoop.example.com',
        HOOP_DATA_DIR: '/var/lib/hoop',
        HOOP_DATABASE_URL: 'postgres://hoop:pw@db/hoop',
        HOOP_LOG_LEVEL: 'debug',
        HOOP_METRICS_LISTEN: '127.0.0.1:9464',
      },
    });
    expect([c.listen, c.public_url, c.data_dir, c.database_url, c.log.level, c.metrics?.listen])
      .toEqual(['127.0.0.1:9999', 'https://hoop.example.com', '/var/lib/hoop', 'postgres://hoop:pw@db/hoop', 'debug', '127.0.0.1:9464']);
    expect(ENV_OVERRIDES.map((o) => o.name)).toEqual(['HOOP_LISTEN', 'HOOP_PUBLIC_URL', 'HOOP_DATA_DIR', 'HOOP_DATABASE_URL', 'HOOP_LOG_LEVEL', 'HOOP_METRICS_LISTEN']);
  });

  it('merges nested flags into the file rather than replacing whole sections', () => {
    const c = load({
      yamlText: IDENTITY + 'grants: { default_ttl: 2h, max_ttl: 4h }\n',
      env: { HOME: '/home/ann', HOOP_LOG_LEVEL: 'error' },
      overrides: { grants: { max_ttl: '6h' }, log: { level: 'trace' } },
    });
    expect(c.grants).toMatchObject({ default_ttl: '2h', max_ttl: '6h' });
    expect(c.log.level).toBe('trace');
    expect(c.identity.audience).toBe('hoop');
  });

  it('says where a bad overriding value came from', () => {
    const err = errorOf(() => load({ yamlText: IDENTITY, env: { HOME: '/h', HOOP_LOG_LEVEL: 'loud' }, overrides: { listen: 'nowhere' } }));
    expect(problemsOf(err)).toEqual([
      'listen: expected host:port, got "nowhere" (from a command-line flag) — use host:port, e.g. 127.0.0.1:8009 or [::1]:8009',
      'log.level: expected trace, debug, info, warn or error, got "loud" (from HOOP_LOG_LEVEL) — pick one of those levels',
    ]);
  });

  it('resolves secret references in env overrides too', () => {
    const c = load({ yamlText: IDENTITY, env: { HOME: '/h', DB_PW: 's3cret', HOOP_DATABASE_URL: 'postgres://hoop:${env:DB_PW}@db/hoop' } });
    expect(c.database_url).toBe('postgres://hoop:s3cret@db/hoop');
  });
});

describe('files', () => {
  it('reads the file and resolves relative paths against its directory; env and flag paths against cwd', () => {
    const files = {
      '/etc/hoop/gateway.yaml': `${IDENTITY}data_dir: state\ntls: { cert_file: tls/cert.pem, key_file: ~/key.pem }
connections:
  - { name: shop, type: postgres, host: db, database: shop, user: u, password: "\${file:secrets/shop}", access: { groups: [] }, tls: { mode: verify-full, ca_file: ca.pem } }
`,
      '/etc/hoop/secrets/shop': 'shop-pw\n',
      '/etc/hoop/tls/cert.pem': CERT,
      '/home/ann/key.pem': KEY,
      '/etc/hoop/ca.pem': CA,
    };
    const c = load({ file: '/etc/hoop/gateway.yaml', readFile: reader(files) });
    expect(c.data_dir).toBe('/etc/hoop/state');
    expect(c.tls).toEqual({ cert_file: '/etc/hoop/tls/cert.pem', key_file: '/home/ann/key.pem' });
    expect(c.connections[0]!.tls.ca_file).toBe('/etc/hoop/ca.pem');
    expect(c.connections[0]!.password).toBe('shop-pw');
    const fromEnv = load({ file: '/etc/hoop/gateway.yaml', readFile: reader(files), env: { HOME: '/home/ann', HOOP_DATA_DIR: 'here' } });
    expect(fromEnv.data_dir).toBe('/work/here');
  });

  it('reports every file start-up would read and cannot, with its key, along with the other problems', () => {
    const yamlText = `${IDENTITY}tls: { cert_file: /nonexistent.crt, key_file: /nonexistent.key }
log: { level: loud }
connections:
  - { name: shop, type: postgres, host: db, database: shop, user: u, access: { groups: [] }, tls: { ca_file: /nonexistent-ca.pem } }
`;
    const err = errorOf(() => load({ yamlText })); // the real file system
    expect(problemsOf(err)).toEqual([
      'tls.cert_file: cannot read /nonexistent.crt (ENOENT: no such file) — create the file, make it readable by the gateway, or fix the path',
      'tls.key_file: cannot read /nonexistent.key (ENOENT: no such file) — create the file, make it readable by the gateway, or fix the path',
      'connections[0].tls.ca_file: cannot read /nonexistent-ca.pem (ENOENT: no such file) — create the file, make it readable by the gateway, or fix the path',
      'log.level: expected trace, debug, info, warn or error, got "loud" — pick one of those levels',
    ]);
  });

  it('names the resolved path, the reason, and where the value came from', () => {
    const files = { '/etc/hoop/tls/cert.pem': CERT };
    const readFile = (path: string): string => {
      if (path === '/etc/hoop/tls/key.pem') throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      return reader(files)(path);
    };
    const err = errorOf(() => load({
      file: '/etc/hoop/gw.yaml',
      yamlText: `${IDENTITY}tls: { cert_file: tls/cert.pem, key_file: tls/key.pem }
`,
      readFile,
      overrides: { tls: { cert_file: 'cert.pem' } },
    }));
    expect(problemsOf(err)).toEqual([
      'tls.cert_file: cannot read /work/cert.pem (ENOENT: no such file) (from a command-line flag) — create the file, make it readable by the gateway, or fix the path',
      'tls.key_file: cannot read /etc/hoop/tls/key.pem (EACCES: permission denied) — create the file, make it readable by the gateway, or fix the path',
    ]);
  });

  it('says nothing more about a file whose path came from a failed secret reference', () => {
    const err = errorOf(() => load({ yamlText: `${IDENTITY}tls: { cert_file: "\${env:CERT}", key_file: /nonexistent.key }
` }));
    expect(problemsOf(err)).toEqual([
      'tls.cert_file: ${env:CERT} is not set — set the environment variable CERT, or change the reference',
      'tls.key_file: cannot read /nonexistent.key (ENOENT: no such file) — create the file, make it readable by the gateway, or fix the path',
    ]);
  });

  describe('what the TLS and CA files hold', () => {
    const tlsYaml = `${IDENTITY}tls: { cert_file: /tls/cert.pem, key_file: /tls/key.pem }
connections:
  - { name: shop, type: postgres, host: db, database: shop, user: u, access: { groups: [] }, tls: { mode: verify-full, ca_file: /tls/ca.pem } }
`;
    const problems = (files: Record<string, string>): string[] => problemsOf(errorOf(() => load({ yamlText: tlsYaml, readFile: reader(files) })));
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

    it('accepts a certificate chain, its key and a CA bundle', () => {
      const c = load({ yamlText: tlsYaml, readFile: reader({ '/tls/cert.pem': CERT + CA, '/tls/key.pem': KEY, '/tls/ca.pem': CA + CERT }) });
      expect(c.tls).toEqual({ cert_file: '/tls/cert.pem', key_file: '/tls/key.pem' });
    });

    it('reports files that hold no PEM, or the wrong kind of it, each under its key', () => {
      expect(problems({ '/tls/cert.pem': KEY, '/tls/key.pem': CERT, '/tls/ca.pem': 'not pem' })).toEqual([
        'tls.cert_file: expected a PEM certificate in /tls/cert.pem (-----BEGIN CERTIFICATE-----), found none — give the certificate in PEM form (openssl x509 -in cert.der -inform der -out cert.pem converts DER)',
        'tls.key_file: expected a PEM private key in /tls/key.pem (-----BEGIN PRIVATE KEY-----), found none — give the private key in PEM form (a certificate or public key is not one)',
        'connections[0].tls.ca_file: expected a PEM certificate in /tls/ca.pem (-----BEGIN CERTIFICATE-----), found none — give the certificate in PEM form (openssl x509 -in cert.der -inform der -out cert.pem converts DER)',
      ]);
    });

    it('reports a damaged certificate, naming which one in the file', () => {
      const damaged = CA.replace(/(-----BEGIN CERTIFICATE-----\n)(.{8})/, '$1AAAAAAAA');
      const [p] = problems({ '/tls/cert.pem': CERT, '/tls/key.pem': KEY, '/tls/ca.pem': CA + damaged });
      expect(p).toMatch(/^connections\[0\]\.tls\.ca_file: certificate 2 in \/tls\/ca\.pem cannot be read \(.+\) — replace the file/);
    });

    it('reports an encrypted key (nobody is there to type its passphrase)', () => {
      const encrypted = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass phrase' }) as string;
      expect(problems({ '/tls/cert.pem': CERT, '/tls/key.pem': encrypted, '/tls/ca.pem': CA })).toEqual([
        'tls.key_file: the key in /tls/key.pem is encrypted, and the gateway cannot enter its passphrase — decrypt it into a file only the gateway can read: openssl pkey -in key.pem -out key-plain.pem',
      ]);
    });

    it('reports a key that is not the certificate\'s, and never prints the key', () => {
      const found = problems({ '/tls/cert.pem': CERT, '/tls/key.pem': other, '/tls/ca.pem': CA });
      expect(found).toEqual([
        'tls.key_file: the key in /tls/key.pem is not the key of the certificate in tls.cert_file (CN=127.0.0.1) — give the key the certificate was issued for, or the certificate that goes with this key',
      ]);
      const damagedKey = KEY.replace(/(-----BEGIN [A-Z ]*PRIVATE KEY-----\n)(.{40})/, '$1' + 'B'.repeat(40));
      const [p] = problems({ '/tls/cert.pem': CERT, '/tls/key.pem': damagedKey, '/tls/ca.pem': CA });
      expect(p).toMatch(/^tls\.key_file: the key in \/tls\/key\.pem cannot be read \(/);
      const body = KEY.split('\n').filter((l) => l && !l.startsWith('-----'));
      for (const line of body) expect(p).not.toContain(line.slice(0, 20));
    });
  });

  it('reports a missing file', () => {
    const err = errorOf(() => load({ file: '/etc/hoop/nope.yaml', readFile: reader({}) }));
    expect(err.message).toBe('cannot read the gateway config file /etc/hoop/nope.yaml (ENOENT)');
    expect(err.hint).toMatch(/--config/);
  });

  it('treats an empty file as all defaults', () => {
    const err = errorOf(() => load({ yamlText: '# nothing yet\n' }));
    expect(problemsOf(err)).toEqual(['identity: expected a mapping (missing) — add an identity: section with at least issuer and audience']);
  });

  it('gives YAML syntax errors with file, line and column', () => {
    const err = errorOf(() => load({ file: '/etc/hoop/gw.yaml', yamlText: `${IDENTITY}listen: 127.0.0.1:8009\n  bad: indent\n` }));
    // The parser points at the mapping value that the over-indented line below turns into a nested mapping.
    expect(problemsOf(err)[0]).toBe('/etc/hoop/gw.yaml:2:9: YAML syntax error: Nested mappings are not allowed in compact mappings');
    expect(err.cause).toBeDefined();
  });

  it('reports duplicate keys with their line', () => {
    const err = errorOf(() => load({ file: 'gw.yaml', yamlText: `${IDENTITY}listen: a\nlisten: b\n` }));
    expect(problemsOf(err)).toEqual([expect.stringMatching(/^gw\.yaml:3:1: YAML syntax error: Map keys must be unique/)]);
  });

  it('explains that a reference inside { } must be quoted', () => {
    const err = errorOf(() => load({ file: 'gw.yaml', yamlText: `${IDENTITY}connections:\n  - { name: shop, password: \${env:PW} }\n` }));
    expect(problemsOf(err)[0]).toMatch(/^gw\.yaml:3:\d+: .* quote secret references: "\$\{env:NAME\}"$/);
    expect(problemsOf(err).length).toBeLessThanOrEqual(4);
  });

  it('wants a mapping at the top level', () => {
    const err = errorOf(() => load({ file: 'gw.yaml', yamlText: '- a\n- b\n' }));
    expect(problemsOf(err)).toEqual(['gw.yaml: expected a mapping of keys at the top level — see docs/configuration.md']);
  });

  it('reports secret references that cannot be resolved, with the key, without a duplicate schema error', () => {
    const err = errorOf(() => load({ yamlText: IDENTITY + 'database_url: ${env:DB_URL}\n' }));
    expect(problemsOf(err)).toEqual(['database_url: ${env:DB_URL} is not set — set the environment variable DB_URL, or change the reference']);
  });
});

describe('the result', () => {
  it('is deep-frozen', () => {
    const c = load({ yamlText: IDENTITY + 'connections: [{ name: shop, type: postgres, host: db, database: d, user: u, access: { groups: [a] } }]\n' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.identity.scopes)).toBe(true);
    expect(Object.isFrozen(c.connections[0]!.access.groups)).toBe(true);
    expect(() => {
      (c as { listen: string }).listen = 'x';
    }).toThrow(TypeError);
    expect(() => {
      (c.connections[0]!.access.groups as string[]).push('b');
    }).toThrow(TypeError);
  });
});

describe('printConfig', () => {
  const yamlText = `${IDENTITY}database_url: postgres://hoop:db-secret@db:5432/hoop
connections:
  - name: shop
    type: postgres
    host: db
    database: shop
    user: hoop_rw
    password: \${env:SHOP_PW}
    access: { groups: [engineers] }
    webhook_url: https://hooks.slack.com/services/T0/B0/xyzzy
    masking: { columns: { "*.api_key": redact } }
  - name: legacy
    type: postgres
    host: db
    database: legacy
    user: legacy
    password: inline-secret
    access: { groups: [] }
`;
  const env = { HOME: '/home/ann', SHOP_PW: 'shop-secret' };

  it('shows references as written and redacts every secret value', () => {
    const out = printConfig(load({ yamlText, env }));
    expect(out).not.toMatch(/db-secret|shop-secret|inline-secret|xyzzy/);
    expect(out).toContain('database_url: postgres://hoop:[redacted]@db:5432/hoop');
    expect(out).toContain('password: ${env:SHOP_PW}');
    expect(out).toContain('password: "[redacted]"');
    expect(out).toContain('webhook_url: https://hooks.slack.com/[redacted]');
    expect(out).toContain('"*.api_key": redact'); // policy rules are not secrets
    expect(out).not.toMatch(/_ms:|listen_host|listen_port/);
  });

  it('prints a database_url with a password that came from the environment as a reference to it, which loads again', () => {
    const env = { HOME: '/h', HOOP_DATABASE_URL: 'postgres://u:env-secret@db/hoop' };
    const first = load({ yamlText: IDENTITY, env });
    const out = printConfig(first);
    expect(out).toContain('database_url: ${env:HOOP_DATABASE_URL}');
    expect(out).not.toContain('env-secret');
    expect(load({ yamlText: out, env: { HOME: '/h', HOOP_DATABASE_URL: 'postgres://u:env-secret@db/hoop' } })).toEqual(first);
    // Without a password there is nothing to hide: the URL is printed as it is.
    expect(printConfig(load({ yamlText: IDENTITY, env: { HOME: '/h', HOOP_DATABASE_URL: 'postgres://db/hoop' } }))).toContain('database_url: postgres://db/hoop');
  });

  it('prints a file that loads back to the same config', () => {
    const noInline = yamlText
      .replace('host: db\n    database: shop', () => 'description: "costs $${price} a month"\n    host: db\n    database: shop')
      .replace('password: inline-secret', 'password: ${file:/run/secrets/legacy}')
      .replace('hoop:db-secret@', 'hoop:${file:/run/secrets/legacy}@')
      .replace('/services/T0/B0/xyzzy', '');
    const readFile = reader({ '/run/secrets/legacy': 'legacy-secret\n' });
    const first = load({ yamlText: noInline, env, readFile });
    expect(first.connections[0]!.description).toBe('costs ${price} a month');
    const printed = printConfig(first);
    expect(printed).toContain('costs $${price} a month'); // a literal `${` is written as it must be read
    const again = load({ yamlText: printed, env, readFile });
    expect(again).toEqual(first);
  });
});
