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

/** Returns the canonical JSON text of `value`. @throws HoopError `internal` naming the path of a value JSON cannot carry. */
export function canonicalize(value: unknown): string {
  try {
    return write(value, 0);
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    throw new HoopError('internal', `cannot canonicalise $${e.path.reverse().join('')}: ${e.what}`, {
      hint: 'audit data must be plain JSON: finite numbers, strings, booleans, null, arrays and plain objects',
    });
  }
}

/** Whether `value` can be canonicalised (no throw). */
export function isCanonicalizable(value: unknown): boolean {
  try {
    write(value, 0);
    return true;
  } catch {
    return false;
  }
}

const MAX_DEPTH = 200;

/**
 * What `write` throws: the path is collected while the refusal unwinds (innermost segment first), so the
 * common case, a value that can be written, builds no path strings at all.
 */
class Refusal {
  readonly path: string[] = [];
  constructor(readonly what: string) {}
}

/** Adds the segment of the member being written to a refusal on its way out. */
function within(e: unknown, segment: string): unknown {
  if (e instanceof Refusal) e.path.push(segment);
  return e;
}

// String.prototype.isWellFormed (ES2024, Node 20): false for a lone UTF-16 surrogate (I-JSON, RFC 7493).
const hasNoLoneSurrogate = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

function writeString(s: string): string {
  if (!hasNoLoneSurrogate(s)) throw new Refusal('the string holds a lone UTF-16 surrogate');
  return JSON.stringify(s);
}

function write(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new Refusal(`nested deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case 'string':
      return writeString(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(`${value} is not a finite number`);
      // ES Number::toString is the JCS number form; String(-0) is "0".
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      throw new Refusal('undefined');
    case 'object':
      break;
    default:
      throw new Refusal(`a ${typeof value}`);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      try {
        // A hole reads as undefined and is refused like one.
        out += write(value[i], depth + 1);
      } catch (e) {
        throw within(e, `[${i}]`);
      }
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    throw new Refusal(`a ${typeof name === 'string' ? name : 'non-plain object'} (convert it to plain JSON first)`);
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i > 0) out += ',';
    try {
      out += `${writeString(k)}:${write((value as Record<string, unknown>)[k], depth + 1)}`;
    } catch (e) {
      throw within(e, `.${k}`);
    }
  }
  return `${out}}`;
}
