/**
 * Which result columns to mask, and how: pure decisions from the connection's masking rules, the statement's
 * facts (from the parser) and, for results, the server's column origins (RowDescription's table OID and
 * attribute number, resolved through the catalog).
 *
 * A column is masked by a rule when its origin matches the rule, or — when the server reports no origin, as
 * for expressions — when the expression uses a column a rule names: then the whole value is masked. Values that
 * could dodge masking in ways no result column reveals (whole-row values, subqueries, set operations, binary
 * COPY) are refused before the statement runs.
 */
import type { ColumnRule, MaskingRules } from '../../config/masking-schema.js';
import type { MaskAction } from '../../masking/index.js';
import type { ColumnUse, StatementFacts, TableRef } from '../../policy/sql/facts.js';

export interface ColumnOrigin {
  schema: string;
  table: string;
  column: string;
}

export interface PlannedColumn {
  action: MaskAction | null;
  /** The rule's pattern, or 'detectors'; null when nothing applies. */
  rule: string | null;
}

const DEFAULT_SCHEMA = 'public';

export function ruleForOrigin(o: ColumnOrigin, rules: MaskingRules): ColumnRule | undefined {
  return rules.columns.find((r) => r.column.test(o.column) && (!r.table || r.table.test(o.table)) && (!r.schema || r.schema.test(o.schema)));
}

/** A rule naming `use` by name, given the tables the statement references (aliases cannot be told apart: all are candidates). */
export function ruleForUse(use: ColumnUse, tables: readonly TableRef[], rules: MaskingRules): ColumnRule | undefined {
  const named = use.table === null ? [] : tables.filter((t) => t.name === use.table || `${t.schema ?? DEFAULT_SCHEMA}.${t.name}` === use.table);
  const candidates = named.length ? named : tables;
  return rules.columns.find((r) => {
    if (use.column !== '*' && !r.column.test(use.column)) return false;
    if (!r.table) return true;
    // An unqualified name may resolve to any schema on the search_path: it matches a rule in any schema.
    return candidates.some((t) => r.table!.test(t.name) && (!r.schema || t.schema === null || r.schema.test(t.schema)));
  });
}

/** A table-scoped rule (any column) matching one of the tables an alias or name may stand for. */
function tableHasRules(alias: string, tables: readonly TableRef[], rules: MaskingRules): ColumnRule | undefined {
  return ruleForUse({ table: alias, column: '*' }, tables, rules);
}

/** A rule that may cover a column of table `t` (one naming the table, or one that can name any table's). */
export function ruleForTable(t: TableRef, rules: MaskingRules): ColumnRule | undefined {
  return tableHasRules(t.name, [t], rules);
}

/**
 * A table of `tables` that a rule may cover, with that rule: one that names the table if any does (the more
 * telling reason), else one that can name a column of any table.
 */
function maskedTable(tables: readonly TableRef[], rules: MaskingRules): { table: TableRef; rule: ColumnRule } | undefined {
  const naming: MaskingRules = { ...rules, columns: rules.columns.filter((r) => !coversAnyTable(r)) };
  for (const set of [naming, rules]) {
    for (const table of tables) {
      const rule = ruleForTable(table, set);
      if (rule) return { table, rule };
    }
  }
  return undefined;
}

/**
 * A rule whose table part is absent or only `*` (`card_number`, `"*.card_number"`) can name a column of any table:
 * without the catalog, every table may have masked columns.
 */
function coversAnyTable(rule: ColumnRule): boolean {
  const parts = rule.pattern.split('.');
  return parts.length === 1 || /^\*+$/.test(parts[parts.length - 2]!);
}

/** `rule <pattern>`, saying why when the rule may cover any table. */
function ruleNamed(rule: ColumnRule): string {
  return coversAnyTable(rule) ? `rule ${rule.pattern}, which can name a column of any table` : `rule ${rule.pattern}`;
}

function tableName(t: TableRef): string {
  return t.schema === null ? t.name : `${t.schema}.${t.name}`;
}

function useName(u: ColumnUse): string {
  if (u.column === '*') return u.table === null ? 'a whole row' : `the whole row ${u.table}`;
  return `the masked column ${u.table ? u.table + '.' : ''}${u.column}`;
}

/** Where a side-channel function sends what it is given (see policy/sql/side-channels.ts). */
const SIDE_CHANNEL_DESTINATIONS: Readonly<Record<string, string>> = {
  pg_notify: 'sends it as a notification to every listening session',
  set_config: 'stores it in a setting that SHOW and current_setting() return',
};

/** Refuses, before anything runs, a statement whose masked values could reach the client unmasked. */
export function maskingRefusal(facts: readonly StatementFacts[], rules: MaskingRules | null): string | null {
  if (!rules || rules.columns.length === 0) return null;
  for (const f of facts) {
    for (const o of f.outputs) {
      if (o.source.kind !== 'expression') continue;
      // `t`, `t.*` and `row_to_json(t)` alike arrive here as whole-row references.
      for (const alias of o.source.wholeRow) {
        const r = tableHasRules(alias, f.tables, rules);
        if (r) return `hoop: "${alias}" is returned as a whole row, but it has masked columns (rule ${r.pattern}); select the columns you need instead`;
      }
    }
    const inDo = maskedTable(f.doTables, rules);
    if (inDo) {
      return `hoop: a DO block that reads a table with masked columns (${tableName(inDo.table)}: ${ruleNamed(inDo.rule)}) cannot be masked: its values can leave through RAISE, cursors or other tables; run the statements directly`;
    }
    for (const call of f.sideChannels) {
      for (const use of call.uses) {
        const r = ruleForUse(use, f.tables, rules);
        if (r) {
          const where = SIDE_CHANNEL_DESTINATIONS[call.function] ?? 'carries it out of the statement';
          return `hoop: ${call.function}() is given ${useName(use)} (${ruleNamed(r)}) and ${where}, where hoop cannot mask it; do not pass masked columns to ${call.function}()`;
        }
      }
    }
    for (const use of f.indirectUses) {
      const r = ruleForUse(use, f.tables, rules);
      if (r) {
        const where = f.setOperation ? 'a set operation (UNION, INTERSECT, EXCEPT)' : 'a subquery, CTE or function';
        return `hoop: the masked column ${use.table ? use.table + '.' : ''}${use.column} (rule ${r.pattern}) reaches the result through ${where}, where hoop cannot mask it; select it directly`;
      }
    }
    const masked = maskedTable(f.tables, rules);
    if ((f.kind === 'prepare' || /DECLARE/i.test(f.command)) && masked) {
      return `hoop: PREPARE and DECLARE CURSOR over tables with masked columns cannot be masked (${tableName(masked.table)}: ${ruleNamed(masked.rule)}); run the query directly (drivers' prepared statements are fine)`;
    }
    if (f.copy && f.copy.direction === 'to' && masked) {
      // COPY's columns are planned by position from the text: a * or an (expr).* leaves their number unknown.
      if (f.copy.query && f.outputs.some((o) => o.source.kind === 'star' || (o.source.kind === 'expression' && o.source.expands))) {
        return 'hoop: COPY (SELECT * …) or COPY (SELECT (…).* …) over tables with masked columns cannot be masked; name the columns';
      }
      const unsupported = f.copy.options.filter((o) => !MASKABLE_COPY_OPTIONS.has(o) || f.copy!.settings.unread.includes(o));
      if (unsupported.length) {
        return `hoop: COPY with ${unsupported.join(', ').toUpperCase()} cannot be masked; use FORMAT text or csv, with HEADER, DELIMITER, NULL, QUOTE or ESCAPE given plainly if needed`;
      }
    }
    if (f.copy && f.copy.direction === 'to' && f.copy.format === 'binary') {
      const touched = f.copy.table ? rules.columns.some((r) => !r.table || (r.table.test(f.copy!.table!.name) && (!r.schema || r.schema.test(f.copy!.table!.schema ?? DEFAULT_SCHEMA))))
        : f.outputs.some((o) => outputRule(o, f, rules));
      if (touched) return 'hoop: COPY in binary format cannot be masked; use FORMAT text or csv';
    }
  }
  return null;
}

/** COPY options the masker follows (see CopyFacts.settings); any other one over a masked table is refused. */
const MASKABLE_COPY_OPTIONS = new Set(['format', 'header', 'delimiter', 'null', 'quote', 'escape']);

/**
 * A value computed from a masked column is masked whole, and with `redact` (or `null`): `partial` keeps parts of
 * the value it is given, and a computed value may carry the secret exactly where partial keeps characters
 * (`'a@' || card_number || '.com'`).
 */
function wholeAction(rule: ColumnRule): MaskAction {
  return { kind: 'rule', strategy: rule.strategy === 'null' ? 'null' : 'redact' };
}

function outputRule(o: StatementFacts['outputs'][number], f: StatementFacts, rules: MaskingRules): ColumnRule | undefined {
  switch (o.source.kind) {
    case 'column':
      return ruleForUse({ table: o.source.table, column: o.source.column }, f.tables, rules);
    case 'expression':
      for (const u of o.source.uses) {
        const r = ruleForUse(u, f.tables, rules);
        if (r) return r;
      }
      return undefined;
    case 'star':
      return undefined;
  }
}

function detectorsAction(rules: MaskingRules): PlannedColumn {
  return rules.detectors.length
    ? { action: { kind: 'detectors', detectors: rules.detectors, strategy: rules.detectorStrategy }, rule: 'detectors' }
    : { action: null, rule: null };
}

/**
 * The plan for one result: per column, by origin when the server knows it, else from the statement's own text
 * (expressions are masked whole), else by the column's name; detectors cover what no rule does.
 */
export function planResult(
  fields: readonly { name: string }[],
  origins: readonly (ColumnOrigin | null)[],
  facts: StatementFacts | undefined,
  rules: MaskingRules,
): PlannedColumn[] {
  const outputs = facts ? alignOutputs(facts.outputs, fields.length) : undefined;
  // Outputs that cannot be aligned with the result's columns (several *, an (expr).*): any expression over a
  // masked column masks every column the server gives no origin for. The fields of an (expr).* have no origin
  // (unless expr is a table's whole row, which is refused before it runs), so they are among those.
  const unaligned = facts && !outputs ? facts.outputs.map((o) => (o.source.kind === 'expression' ? outputRule(o, facts, rules) : undefined)).find((r) => r) : undefined;
  return fields.map((field, i) => {
    const origin = origins[i];
    if (origin) {
      const r = ruleForOrigin(origin, rules);
      if (r) return { action: { kind: 'rule', strategy: r.strategy }, rule: r.pattern };
      return detectorsAction(rules);
    }
    const o = outputs?.[i];
    if (o && facts) {
      const r = outputRule(o, facts, rules);
      if (r) return { action: o.source.kind === 'expression' ? wholeAction(r) : { kind: 'rule', strategy: r.strategy }, rule: r.pattern };
    } else if (unaligned) {
      return { action: wholeAction(unaligned), rule: unaligned.pattern };
    } else if (facts) {
      const r = ruleForUse({ table: null, column: field.name }, facts.tables, rules);
      if (r) return { action: { kind: 'rule', strategy: r.strategy }, rule: r.pattern };
    }
    return detectorsAction(rules);
  });
}

/**
 * The statement's outputs, one per result column: a `*` stands for however many columns the server returned
 * beyond the named ones (only one `*` can be placed that way); undefined when they cannot be aligned. An
 * `(expr).*` also stands for an unknown number of columns, and unlike a `*` its columns have no origin to be
 * masked by: counting it as one output would shift every later one onto the wrong column.
 */
function alignOutputs(outputs: StatementFacts['outputs'], count: number): (StatementFacts['outputs'][number] | undefined)[] | undefined {
  if (outputs.some((o) => o.source.kind === 'expression' && o.source.expands)) return undefined;
  const stars = outputs.filter((o) => o.source.kind === 'star').length;
  if (stars === 0) return outputs.length === count ? outputs : undefined;
  if (stars > 1) return undefined;
  const width = count - (outputs.length - 1);
  if (width < 0) return undefined;
  return outputs.flatMap((o) => (o.source.kind === 'star' ? new Array<undefined>(width).fill(undefined) : [o]));
}

/** The plan for COPY … TO STDOUT: a table's columns by origin, a query's by its outputs. */
export function planCopy(facts: StatementFacts, tableColumns: readonly string[] | null, rules: MaskingRules): PlannedColumn[] {
  const copy = facts.copy!;
  if (!copy.query && copy.table) {
    const cols = copy.columns ?? tableColumns ?? [];
    const origin = (c: string): ColumnOrigin => ({ schema: copy.table!.schema ?? DEFAULT_SCHEMA, table: copy.table!.name, column: c });
    return cols.map((c) => {
      const r = ruleForOrigin(origin(c), rules);
      return r ? { action: { kind: 'rule', strategy: r.strategy }, rule: r.pattern } : detectorsAction(rules);
    });
  }
  return facts.outputs.map((o) => {
    const r = outputRule(o, facts, rules);
    if (!r) return detectorsAction(rules);
    return { action: o.source.kind === 'expression' ? wholeAction(r) : { kind: 'rule', strategy: r.strategy }, rule: r.pattern };
  });
}
