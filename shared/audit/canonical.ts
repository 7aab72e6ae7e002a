/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme): the exact bytes the audit chain hashes and signs.
 *
 * - object members sorted by key, compared as UTF-16 code units (what `Array.prototype.sort` does);
 * - no whitespace;
 * - strings escaped as ECMAScript `JSON.stringify` escapes them;
 * - numbers in ECMAScript `Number.prototype.toString` form (`1e+21`, `1.5e-7`, `-0` as `0`).
 *
 * Anything JSON cannot carry losslessly is refused rather than silently changed: non-finite numbers,
 * `undefined` (as a member value or an array element), functions, symbols, bigints, lone surrogates (I-JSON,
 * RFC 7493) and objects that are not plain (a `Date` must be turned into a string by the caller). The output
 * is therefore stable under a round trip: `canonicalize(JSON.parse(canonicalize(x))) === canonicalize(x)`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
import { HoopError } from '../errors.js';

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Returns the canonical JSON text of `value`. @throws HoopError `internal` naming the path of a value JSON cannot carry. */
export function canonicalize(value: unknown): string {
  return write(value, '$', 0);
}

/** Whether `value` can be canonicalised (no throw). */
export function isCanonicalizable(value: unknown): boolean {
  try {
    canonicalize(value);
    return true;
  } catch {
    return false;
  }
}

const MAX_DEPTH = 200;

function refuse(path: string, what: string): never {
  throw new HoopError('internal', `cannot canonicalise ${path}: ${what}`, {
    hint: 'audit data must be plain JSON: finite numbers, strings, booleans, null, arrays and plain objects',
  });
}

function writeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) refuse(path, 'the string holds a lone UTF-16 surrogate');
  return JSON.stringify(s);
}

function write(value: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH) refuse(path, `nested deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case 'string':
      return writeString(value, path);
    case 'number':
      if (!Number.isFinite(value)) refuse(path, `${value} is not a finite number`);
      // ES Number::toString is the JCS number form; String(-0) is "0".
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return refuse(path, 'undefined');
    case 'object':
      break;
    default:
      return refuse(path, `a ${typeof value}`);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) {
      // A hole reads as undefined and is refused like one.
      parts.push(write(value[i], `${path}[${i}]`, depth + 1));
    }
    return `[${parts.join(',')}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    refuse(path, `a ${typeof name === 'string' ? name : 'non-plain object'} (convert it to plain JSON first)`);
  }
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const childPath = `${path}.${k}`;
    parts.push(`${writeString(k, childPath)}:${write((value as Record<string, unknown>)[k], childPath, depth + 1)}`);
  }
  return `{${parts.join(',')}}`;
}
