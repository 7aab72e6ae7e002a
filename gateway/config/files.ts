/**
 * Files the gateway reads at start-up (its TLS certificate and key, the targets' CA files) are read once while
 * the config loads, so that a wrong path is reported with the other problems, naming its key, before anything
 * starts. The contents are not kept: start-up reads the files again.
 */
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
export function unreadableFiles(tree: unknown, o: CheckFilesOptions): FileProblem[] {
  const problems: FileProblem[] = [];
  for (const [key, value] of stringLeaves(tree, [])) {
    if (value === '' || o.skip.has(key) || !READ_AT_START_KEYS.some((re) => re.test(key))) continue;
    const abs = o.resolvePath(key, value);
    try {
      o.readFile(abs);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const why = typeof code === 'string' ? `${code}: ${WHY[code] ?? 'unreadable'}` : 'unreadable';
      problems.push({ path: key, message: problem(`cannot read ${abs} (${why})`, 'create the file, make it readable by the gateway, or fix the path') });
    }
  }
  return problems;
}

function* stringLeaves(v: unknown, path: PropertyKey[]): Generator<[string, string]> {
  if (typeof v === 'string') yield [formatPath(path), v];
  else if (Array.isArray(v)) for (const [i, item] of v.entries()) yield* stringLeaves(item, [...path, i]);
  else if (v !== null && typeof v === 'object') for (const [k, child] of Object.entries(v)) yield* stringLeaves(child, [...path, k]);
}
