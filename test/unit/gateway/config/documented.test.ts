/**
 * Every key the gateway's configuration accepts is documented: a key added to the schema without a line in
 * docs/configuration.md (or docs/policies.md, for the policy keys) fails here, so the reference stays whole.
 * The schema is walked through zod's own definitions (`_zod.def`), wrappers (optional, default…) unwrapped.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema } from '../../../../gateway/config/schema.js';

const docs = ['configuration.md', 'policies.md']
  .map((f) => readFileSync(new URL(`../../../../docs/${f}`, import.meta.url), 'utf8'))
  .join('\n');

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  element?: unknown;
  options?: unknown[];
  left?: unknown;
  right?: unknown;
  valueType?: unknown;
}

const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** Each key path (`audit.retention.returned_data`, `connections[].tls.mode`) with whether it holds a mapping. */
function keyPaths(schema: unknown, path = '', out = new Map<string, boolean>()): Map<string, boolean> {
  const def = defOf(schema);
  if (!def) return out;
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape ?? {})) {
        const p = path ? `${path}.${key}` : key;
        out.set(p, out.get(p) ?? false);
        keyPaths(value, p, out);
      }
      if (path) out.set(path, true);
      break;
    case 'optional': case 'nullable': case 'default': case 'prefault': case 'readonly': case 'catch':
      keyPaths(def.innerType, path, out);
      break;
    case 'pipe':
      keyPaths(def.in, path, out);
      keyPaths(def.out, path, out);
      break;
    case 'array':
      keyPaths(def.element, `${path}[]`, out);
      break;
    case 'union':
      for (const o of def.options ?? []) keyPaths(o, path, out);
      break;
    case 'intersection':
      keyPaths(def.left, path, out);
      keyPaths(def.right, path, out);
      break;
    case 'record':
      keyPaths(def.valueType, `${path}.*`, out);
      break;
  }
  return out;
}

describe('the configuration reference', () => {
  const paths = keyPaths(gatewayConfigSchema);

  it('finds the schema\'s keys (the walk itself works)', () => {
    expect(paths.size).toBeGreaterThan(50);
    expect(paths.has('audit.retention.returned_data')).toBe(true);
    expect(paths.has('connections[].tls.ca_file')).toBe(true);
  });

  it('documents every key that holds a value, in backticks, by its path or its name within its section', () => {
    const leaves = [...paths].filter(([p, mapping]) => !mapping && !p.endsWith('.*')).map(([p]) => p);
    const undocumented = leaves.filter((p) => {
      const name = p.slice(p.lastIndexOf('.') + 1).replace(/\[\]$/, '');
      // `name`, `section.name`, `list[].name`, or `name:` opening an inline example.
      return !new RegExp('`(?:[a-z_]+(?:\\[\\])?\\.)*' + name + '(?:`|:)').test(docs);
    });
    expect(undocumented).toEqual([]);
  });
});
