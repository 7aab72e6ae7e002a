/**
 * `masking:` on a connection. Column rules name where sensitive values live; detectors find them by content.
 *
 *   masking:
 *     columns: { public.customers.email: partial, "*.card_number": redact, ssn: hash }
 *     detectors: [email, credit_card, iban, us_ssn, phone, secret]
 *     detector_strategy: redact        # what detectors do to what they find (default redact)
 */
import { z } from 'zod';
import { DETECTOR_NAMES, MASK_STRATEGIES, type DetectorName, type MaskStrategy } from '../masking/index.js';

const strategy = z.enum(MASK_STRATEGIES as unknown as [MaskStrategy, ...MaskStrategy[]], {
  error: `expected one of ${MASK_STRATEGIES.join(', ')} — pick how the values are masked`,
});

const COLUMN_PATTERN = /^(\*|[A-Za-z_][\w$*]*)(\.(\*|[A-Za-z_][\w$*]*)){0,2}$/;

export const maskingSchema = z.strictObject({
  columns: z
    .record(
      z.string().regex(COLUMN_PATTERN, { error: 'expected [schema.]table.column or a column name (globs with *) — e.g. public.customers.email or "*.card_number"' }),
      strategy,
    )
    .default({}),
  detectors: z
    .array(z.enum(DETECTOR_NAMES as unknown as [DetectorName, ...DetectorName[]], { error: `expected one of ${DETECTOR_NAMES.join(', ')}` }))
    .default([]),
  detector_strategy: strategy.default('redact'),
}, { error: 'expected a mapping — e.g. masking: { columns: { public.customers.email: partial }, detectors: [email] }' });

export type MaskingConfig = z.output<typeof maskingSchema>;

export interface ColumnRule {
  /** As written in the config, e.g. "public.customers.email" (names the rule in records). */
  pattern: string;
  schema: RegExp | null;
  table: RegExp | null;
  column: RegExp;
  strategy: MaskStrategy;
}

export interface MaskingRules {
  columns: ColumnRule[];
  detectors: DetectorName[];
  detectorStrategy: MaskStrategy;
}

function glob(s: string): RegExp {
  return new RegExp(`^${s.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** `schema.table.column`, `table.column` (any schema) or `column` (any table). */
export function toMaskingRules(c: { readonly columns: Readonly<Record<string, MaskStrategy>>; readonly detectors: readonly DetectorName[]; readonly detector_strategy: MaskStrategy } | undefined): MaskingRules | null {
  if (!c || (Object.keys(c.columns).length === 0 && c.detectors.length === 0)) return null;
  const columns = Object.entries(c.columns).map(([pattern, strat]) => {
    const parts = pattern.split('.');
    const [schema, table, column] = parts.length === 3 ? parts : parts.length === 2 ? [null, parts[0], parts[1]] : [null, null, parts[0]];
    return { pattern, schema: schema ? glob(schema) : null, table: table ? glob(table) : null, column: glob(column!), strategy: strat };
  });
  return { columns, detectors: [...c.detectors], detectorStrategy: c.detector_strategy };
}
