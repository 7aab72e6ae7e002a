/**
 * What the policy layer knows about a SQL statement: facts extracted from PostgreSQL's own parse tree
 * (libpg-query), never from regular expressions over the text. See docs/policies.md for what these facts
 * cannot see.
 */

export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'merge', 'truncate', 'copy', 'ddl', 'grant', 'do', 'call',
  'transaction', 'set', 'show', 'explain', 'prepare', 'execute', 'other',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

export const GUARD_CLASSES = [
  'ddl', 'truncate', 'delete_without_where', 'update_without_where', 'copy_program', 'grant',
] as const;
export type GuardClass = (typeof GUARD_CLASSES)[number];

/** A relation as written. Unquoted identifiers arrive lower-cased from the parser; quoted ones keep their case. */
export interface TableRef {
  schema: string | null;
  name: string;
}

/**
 * A column reference as written. `table` is the qualifier (alias or table name, `schema.table` when written so).
 * `column: '*'` stands for every column of `table` (a `t.*` or a whole-row reference), or of every relation in
 * scope when `table` is null.
 */
export interface ColumnUse {
  table: string | null;
  column: string;
}

/** One result column, in order. */
export interface OutputColumn {
  position: number;
  /** The column name the server will report, when it can be told from the text; null otherwise. */
  name: string | null;
  source:
    | { kind: 'column'; table: string | null; column: string }
    | { kind: 'star'; table: string | null }
    | {
      kind: 'expression';
      uses: ColumnUse[];
      wholeRow: string[];
      /**
       * True for `(expr).*`: the server returns one result column per field of the row value, and how many the
       * text does not tell, so the outputs after it cannot be lined up with the result's columns by position.
       */
      expands?: true;
    };
}

/**
 * A call to a function that carries a value out of the statement other than as a result column, where no
 * masking applies: pg_notify's payload (a NotificationResponse to every listener), set_config's value (read back
 * by SHOW and current_setting()).
 */
export interface SideChannelCall {
  /** The function's bare name, lower-cased. */
  function: string;
  /** Column references in its arguments, subqueries included; a whole row as `column: '*'`. */
  uses: ColumnUse[];
}

export interface CopyFacts {
  direction: 'to' | 'from';
  table: TableRef | null;
  columns: string[] | null;
  /** COPY (query) TO … */
  query: boolean;
  program: boolean;
  format: 'text' | 'csv' | 'binary';
  /** STDIN/STDOUT (through the client), as opposed to a file or program on the server. */
  stdio: boolean;
  /** The options given (lower-cased names): format, header, delimiter, null, quote, escape, force_quote… */
  options: string[];
  /**
   * The values of the options that shape COPY's text and csv output, read exactly as PostgreSQL would: HEADER
   * as a boolean, DELIMITER, QUOTE and ESCAPE as one ASCII character, NULL as a string. An option given in any
   * other form is listed in `unread` instead (masking refuses it rather than guess).
   */
  settings: CopySettings;
}

export interface CopySettings {
  header?: boolean;
  delimiter?: string;
  null?: string;
  quote?: string;
  escape?: string;
  /** Options among header, delimiter, null, quote and escape whose value was not read. */
  unread: string[];
}

export interface StatementFacts {
  /** This statement's own text, sliced out of a multi-statement string. */
  text: string;
  /** Kind of the top-level statement. */
  kind: StatementKind;
  /** A command tag in the style of PostgreSQL's: 'SELECT', 'DROP TABLE', 'CREATE INDEX', 'COPY'… */
  command: string;
  /** Every kind found anywhere inside: a DELETE in a CTE, statements in a DO body, EXPLAIN ANALYZE's statement… */
  kinds: StatementKind[];
  /** Every guard class found anywhere inside. */
  classes: GuardClass[];
  /** Every relation referenced anywhere, deduplicated (CTE names are not relations and are left out). */
  tables: TableRef[];
  /** Targets of INSERT/UPDATE/DELETE/MERGE/TRUNCATE/COPY FROM/SELECT INTO and of DDL. */
  writtenTables: TableRef[];
  /** Every function called anywhere, lower-cased, both qualified as written and bare, deduplicated. */
  functions: string[];
  /** SELECT target list, RETURNING list or COPY's columns; [] for other statements. */
  outputs: OutputColumn[];
  copy?: CopyFacts;
  /**
   * Column references that reach the output through a subquery, CTE, set operation, VALUES or FROM-clause
   * function, where the server cannot report the result column's origin: masking must treat outputs as derived.
   */
  indirectUses: ColumnUse[];
  /** True when the outputs come from a set operation (UNION, INTERSECT, EXCEPT): the server reports no origin. */
  setOperation: boolean;
  /**
   * Relations referenced inside DO block bodies (their statements, expressions and constant dynamic SQL), also
   * listed in `tables`. A DO block moves values where no result column shows them: RAISE, cursors, other tables.
   */
  doTables: TableRef[];
  /** Calls to pg_notify and set_config anywhere in the statement (outside DO bodies), with what they are given. */
  sideChannels: SideChannelCall[];
  /** Dynamic SQL that could not be checked (EXECUTE of a non-constant string in a DO block, a DO in another language…). */
  unverifiable: string[];
  /**
   * The prepared statements this statement removes on the server, when it is a top-level `DEALLOCATE name`
   * (the name), `DEALLOCATE ALL` or `DISCARD ALL` (null: all of them). They share one namespace with the
   * extended protocol's named statements.
   */
  releases?: string | null;
}

export type ParsedSql =
  | { ok: true; statements: StatementFacts[] }
  | { ok: false; error: string };
