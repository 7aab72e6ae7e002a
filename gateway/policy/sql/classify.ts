/**
 * Statement node → kind, guard classes and command tag.
 *
 * DDL is decided by the node type, so a statement type added in a later PostgreSQL release that creates, alters or
 * drops something (every one of them is named Create…/Alter…/Drop…) is DDL without a change here.
 */
import { text, type Obj } from './ast.js';
import type { GuardClass, StatementKind } from './facts.js';

const FIXED_KINDS: Readonly<Record<string, StatementKind>> = {
  SelectStmt: 'select',
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
  TruncateStmt: 'truncate',
  CopyStmt: 'copy',
  DoStmt: 'do',
  CallStmt: 'call',
  TransactionStmt: 'transaction',
  VariableSetStmt: 'set',
  ConstraintsSetStmt: 'set',
  VariableShowStmt: 'show',
  ExplainStmt: 'explain',
  PrepareStmt: 'prepare',
  ExecuteStmt: 'execute',
  GrantStmt: 'grant',
  GrantRoleStmt: 'grant',
  AlterDefaultPrivilegesStmt: 'grant',
};

/** DDL statement types whose names do not start with Create, Alter or Drop. */
const OTHER_DDL = new Set([
  'DefineStmt', 'CommentStmt', 'RenameStmt', 'IndexStmt', 'ViewStmt', 'RuleStmt', 'CompositeTypeStmt',
  'SecLabelStmt', 'ReassignOwnedStmt', 'ImportForeignSchemaStmt', 'ReplicaIdentityStmt',
]);

/** Nodes named …Stmt that are not statements a client sends. */
const NOT_STATEMENTS = new Set(['RawStmt', 'SetOperationStmt', 'ReturnStmt', 'PLAssignStmt']);

export function isStatementNode(type: string): boolean {
  return type.endsWith('Stmt') && !NOT_STATEMENTS.has(type);
}

/** The kind of a statement node; SELECT … INTO creates a table, so it is DDL. */
export function kindOf(type: string, body: Obj): StatementKind {
  if (type === 'SelectStmt' && body.intoClause !== undefined) return 'ddl';
  const fixed = FIXED_KINDS[type];
  if (fixed) return fixed;
  if (/^(Create|Alter|Drop)/.test(type) || OTHER_DDL.has(type)) return 'ddl';
  return 'other';
}

/**
 * The guard classes a statement node carries by itself (nested statements are classified on their own).
 * `delete_without_where`/`update_without_where` look only for a missing WHERE clause: `WHERE true` or
 * `WHERE id = id` pass (documented in docs/policies.md).
 */
export function classesOf(type: string, body: Obj, kind: StatementKind): GuardClass[] {
  const out: GuardClass[] = [];
  if (kind === 'ddl') out.push('ddl');
  if (kind === 'grant') out.push('grant');
  if (type === 'TruncateStmt') out.push('truncate');
  if (type === 'DeleteStmt' && body.whereClause === undefined) out.push('delete_without_where');
  if (type === 'UpdateStmt' && body.whereClause === undefined) out.push('update_without_where');
  if (type === 'CopyStmt' && body.is_program === true) out.push('copy_program');
  return out;
}

const OBJECT_WORDS: Readonly<Record<string, string>> = {
  MATVIEW: 'MATERIALIZED VIEW',
  FDW: 'FOREIGN DATA WRAPPER',
  FOREIGN_SERVER: 'SERVER',
  TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION',
  TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
  TSPARSER: 'TEXT SEARCH PARSER',
  TSTEMPLATE: 'TEXT SEARCH TEMPLATE',
  STATISTIC_EXT: 'STATISTICS',
  OPCLASS: 'OPERATOR CLASS',
  OPFAMILY: 'OPERATOR FAMILY',
  LARGEOBJECT: 'LARGE OBJECT',
  TABCONSTRAINT: 'CONSTRAINT',
  DOMCONSTRAINT: 'CONSTRAINT',
};

/** 'OBJECT_MATVIEW' → 'MATERIALIZED VIEW'. */
function objectWords(objectType: unknown): string | undefined {
  const t = text(objectType)?.replace(/^OBJECT_/, '');
  if (t === undefined) return undefined;
  return OBJECT_WORDS[t] ?? t.replace(/_/g, ' ');
}

const FIXED_COMMANDS: Readonly<Record<string, string>> = {
  CreateStmt: 'CREATE TABLE',
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  CreatePLangStmt: 'CREATE LANGUAGE',
  CreateFdwStmt: 'CREATE FOREIGN DATA WRAPPER',
  AlterFdwStmt: 'ALTER FOREIGN DATA WRAPPER',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreateEventTrigStmt: 'CREATE EVENT TRIGGER',
  AlterEventTrigStmt: 'ALTER EVENT TRIGGER',
  CreateAmStmt: 'CREATE ACCESS METHOD',
  CreateOpClassStmt: 'CREATE OPERATOR CLASS',
  CreateOpFamilyStmt: 'CREATE OPERATOR FAMILY',
  AlterOpFamilyStmt: 'ALTER OPERATOR FAMILY',
  CreateStatsStmt: 'CREATE STATISTICS',
  AlterStatsStmt: 'ALTER STATISTICS',
  CreateForeignServerStmt: 'CREATE SERVER',
  AlterForeignServerStmt: 'ALTER SERVER',
  CompositeTypeStmt: 'CREATE TYPE',
  CreateEnumStmt: 'CREATE TYPE',
  CreateRangeStmt: 'CREATE TYPE',
  AlterEnumStmt: 'ALTER TYPE',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  AlterRoleSetStmt: 'ALTER ROLE',
  AlterDatabaseSetStmt: 'ALTER DATABASE',
  AlterTSDictionaryStmt: 'ALTER TEXT SEARCH DICTIONARY',
  AlterTSConfigurationStmt: 'ALTER TEXT SEARCH CONFIGURATION',
  IndexStmt: 'CREATE INDEX',
  ViewStmt: 'CREATE VIEW',
  RuleStmt: 'CREATE RULE',
  CommentStmt: 'COMMENT',
  SecLabelStmt: 'SECURITY LABEL',
  AlterDefaultPrivilegesStmt: 'ALTER DEFAULT PRIVILEGES',
  VariableSetStmt: 'SET',
  ConstraintsSetStmt: 'SET CONSTRAINTS',
  VariableShowStmt: 'SHOW',
  DeclareCursorStmt: 'DECLARE CURSOR',
  ClosePortalStmt: 'CLOSE',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
  CheckPointStmt: 'CHECKPOINT',
  LockStmt: 'LOCK TABLE',
};

const TRANSACTION_COMMANDS: Readonly<Record<string, string>> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

/** A command tag in the style of PostgreSQL's, for audit records and messages. */
export function commandOf(type: string, body: Obj): string {
  switch (type) {
    case 'SelectStmt':
      if (body.intoClause !== undefined) return 'SELECT INTO';
      return body.valuesLists !== undefined && body.targetList === undefined ? 'VALUES' : 'SELECT';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body.is_grant === true ? 'GRANT' : 'REVOKE';
    case 'TransactionStmt':
      return TRANSACTION_COMMANDS[text(body.kind) ?? ''] ?? 'TRANSACTION';
    case 'DropStmt':
      return `DROP ${objectWords(body.removeType) ?? 'OBJECT'}`;
    case 'RenameStmt':
    case 'AlterObjectSchemaStmt':
    case 'AlterOwnerStmt':
      return `ALTER ${objectWords(body.renameType ?? body.objectType) ?? 'OBJECT'}`;
    case 'AlterTableStmt':
      return `ALTER ${objectWords(body.objtype) ?? 'TABLE'}`;
    case 'DefineStmt':
      return `CREATE ${objectWords(body.kind) ?? 'OBJECT'}`;
    case 'CreateTableAsStmt':
      if (body.is_select_into === true) return 'SELECT INTO';
      return text(body.objtype) === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS';
    case 'CreateFunctionStmt':
      return body.is_procedure === true ? 'CREATE PROCEDURE' : 'CREATE FUNCTION';
    case 'VacuumStmt':
      return body.is_vacuumcmd === true ? 'VACUUM' : 'ANALYZE';
    case 'FetchStmt':
      return body.ismove === true ? 'MOVE' : 'FETCH';
    case 'VariableSetStmt':
      return text(body.kind)?.startsWith('VAR_RESET') ? 'RESET' : 'SET';
    default:
      return FIXED_COMMANDS[type] ?? camelToWords(type.replace(/Stmt$/, ''));
  }
}

/** 'CreateSchema' → 'CREATE SCHEMA'. */
function camelToWords(s: string): string {
  return s.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}
