/**
 * Settings that change how PostgreSQL reads statement text. hoop parses as a default server does
 * (standard_conforming_strings on, UTF-8); a session that turned them elsewhere would read the next statement
 * differently from hoop. With standard_conforming_strings off, `SELECT 'a\' , ' ; DROP TABLE t; -- '` is two
 * harmless strings to hoop and a DROP TABLE to the server. Changing them is therefore unverifiable.
 *
 * The engine must also refuse sessions that start with other values (startup `options`, role or database
 * defaults): this file only sees statements.
 */
import { isObj, list, nodeOf, text, type Obj } from './ast.js';

const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  standard_conforming_strings: ['on', 'true', 'yes', '1'],
  client_encoding: ['utf8', 'utf-8', 'unicode'],
};

/** The value of a constant argument as text, or undefined. */
function constantText(v: unknown): string | undefined {
  const c = nodeOf(v, 'A_Const');
  if (isObj(c?.sval)) return text(c.sval.sval) ?? '';
  if (isObj(c?.ival)) return String(typeof c.ival.ival === 'number' ? c.ival.ival : 0);
  return undefined;
}

function problem(name: string, value: string): string {
  return `setting ${name} to ${value}: hoop reads statements as standard_conforming_strings = on and client_encoding = UTF8`;
}

/** A SET / ALTER … SET of a parser-sensitive setting to another value, as an unverifiable reason. */
export function setStatementProblem(setstmt: Obj): string | undefined {
  const name = text(setstmt.name)?.toLowerCase();
  const allowed = name === undefined ? undefined : ALLOWED[name];
  if (!allowed || setstmt.kind !== 'VAR_SET_VALUE') return undefined; // RESET and DEFAULT return to the server's value
  const args = list(setstmt.args);
  const value = args.length === 1 ? constantText(args[0])?.toLowerCase() : undefined;
  return value !== undefined && allowed.includes(value) ? undefined : problem(name!, value ?? 'another value');
}

/** set_config(name, value, is_local) of a parser-sensitive setting, or with a name computed at run time. */
export function setConfigProblem(call: Obj): string | undefined {
  const [nameArg, valueArg] = list(call.args);
  const name = constantText(nameArg)?.toLowerCase();
  if (name === undefined) return 'set_config() with a setting name computed at run time';
  const allowed = ALLOWED[name];
  if (!allowed) return undefined;
  const value = constantText(valueArg)?.toLowerCase();
  return value !== undefined && allowed.includes(value) ? undefined : problem(name, value ?? 'a computed value');
}
