/**
 * Files the gateway reads at start-up (its TLS certificate and key, the targets' CA files) are read once while
 * the config loads, so that a wrong path or a wrong file (not PEM, an encrypted key, a key that is not the
 * certificate's) is reported with the other problems, naming its key, before anything starts. The contents are
 * not kept: start-up reads the files again.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { formatPath, problem } from './schema.js';

/** Key paths of files read at start-up (each also in the loader's path keys, so `~` and relative paths expand). */
export const READ_AT_START_KEYS: readonly RegExp[] = [/^tls\.(cert_file|key_file)$/, /^connections\[\d+\]\.tls\.ca_file$/];

export interface FileProblem {
  /** `tls.cert_file` */
  path: string;
  /** "<expected> — <fix>", like schema messages. */
  message: string;
}

export interface CheckFilesOptions {
  /** Throws (with an errno `code`) when the file cannot be read. */
  readFile: (path: string) => string;
  /** The absolute path a key's value stands for (`~` and relative paths expanded). */
  resolvePath: (key: string, value: string) => string;
  /** Keys already reported (a failed secret reference): nothing more to say about them. */
  skip: ReadonlySet<string>;
}

const WHY: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'a directory, not a file',
  ENOTDIR: 'a parent is not a directory',
};

/**
 * Tries to read every start-up file named in a config tree (before or after schema parsing). Values that are
 * not non-empty strings are left to the schema, which reports them.
 */
export function startFileProblems(tree: unknown, o: CheckFilesOptions): FileProblem[] {
  const problems: FileProblem[] = [];
  const read = new Map<string, { abs: string; found: Certificate | KeyObject }>();
  for (const [key, value] of stringLeaves(tree, [])) {
    if (value === '' || o.skip.has(key) || !READ_AT_START_KEYS.some((re) => re.test(key))) continue;
    const abs = o.resolvePath(key, value);
    let text: string;
    try {
      text = o.readFile(abs);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const why = typeof code === 'string' ? `${code}: ${WHY[code] ?? 'unreadable'}` : 'unreadable';
      problems.push({ path: key, message: problem(`cannot read ${abs} (${why})`, 'create the file, make it readable by the gateway, or fix the path') });
      continue;
    }
    const checked = key === 'tls.key_file' ? privateKeyIn(text, abs) : certificatesIn(text, abs);
    if (typeof checked === 'string') problems.push({ path: key, message: checked });
    else read.set(key, { abs, found: checked });
  }
  const cert = read.get('tls.cert_file')?.found as Certificate | undefined;
  const key = read.get('tls.key_file');
  if (cert && key && !cert.checkPrivateKey(key.found as KeyObject)) {
    problems.push({
      path: 'tls.key_file',
      message: problem(`the key in ${key.abs} is not the key of the certificate in tls.cert_file (${cert.subject.replace(/\n/g, ', ')})`,
        'give the key the certificate was issued for, or the certificate that goes with this key'),
    });
  }
  return problems;
}

type Certificate = X509Certificate;
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The first certificate of a PEM file (a chain or a CA bundle may hold more; each must parse), or a problem. */
function certificatesIn(text: string, abs: string): Certificate | string {
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    return problem(`expected a PEM certificate in ${abs} (-----BEGIN CERTIFICATE-----), found none`, 'give the certificate in PEM form (openssl x509 -in cert.der -inform der -out cert.pem converts DER)');
  }
  let first: Certificate | undefined;
  for (const [i, block] of blocks.entries()) {
    try {
      first ??= new X509Certificate(block);
      if (i > 0) new X509Certificate(block);
    } catch (err) {
      return problem(`certificate ${i + 1} in ${abs} cannot be read (${reason(err)})`, 'replace the file with the PEM the issuer gave');
    }
  }
  return first!;
}

/** The private key of a PEM file, or a problem (an encrypted key cannot be used: nobody is there to type its passphrase). */
function privateKeyIn(text: string, abs: string): KeyObject | string {
  if (/-----BEGIN (ENCRYPTED PRIVATE KEY|[A-Z ]*PRIVATE KEY-----[\s\S]*Proc-Type: 4,ENCRYPTED)/.test(text)) {
    return problem(`the key in ${abs} is encrypted, and the gateway cannot enter its passphrase`, 'decrypt it into a file only the gateway can read: openssl pkey -in key.pem -out key-plain.pem');
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    return problem(`expected a PEM private key in ${abs} (-----BEGIN PRIVATE KEY-----), found none`, 'give the private key in PEM form (a certificate or public key is not one)');
  }
  try {
    return createPrivateKey(text);
  } catch (err) {
    return problem(`the key in ${abs} cannot be read (${reason(err)})`, 'replace the file with the PEM private key the certificate was issued for');
  }
}

/** OpenSSL's reason, without the file's bytes (a key must never reach a message). */
function reason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message.split('\n')[0]!.slice(0, 120) : 'unreadable';
  return typeof code === 'string' && !message.includes(code) ? `${message}, ${code}` : message;
}

function* stringLeaves(v: unknown, path: PropertyKey[]): Generator<[string, string]> {
  if (typeof v === 'string') yield [formatPath(path), v];
  else if (Array.isArray(v)) for (const [i, item] of v.entries()) yield* stringLeaves(item, [...path, i]);
  else if (v !== null && typeof v === 'object') for (const [k, child] of Object.entries(v)) yield* stringLeaves(child, [...path, k]);
}
