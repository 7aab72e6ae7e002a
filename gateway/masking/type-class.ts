/**
 * How masking treats a column, from its type OID (RowDescription).
 *
 * @see https://github.com/postgres/postgres/blob/master/src/include/catalog/pg_type.dat
 */

/** Built-in type OIDs masking cares about. */
export const TypeOid = {
  bool: 16, bytea: 17, char: 18, name: 19, int8: 20, int2: 21, int4: 23, text: 25, oid: 26,
  json: 114, xml: 142, cidr: 650, float4: 700, float8: 701, unknown: 705, money: 790, macaddr: 829, inet: 869,
  bpchar: 1042, varchar: 1043, date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, interval: 1186,
  timetz: 1266, bit: 1560, varbit: 1562, numeric: 1700, uuid: 2950, jsonb: 3802,
} as const;

/**
 * - `text`: text-like, masked as a string in both formats (the binary form is the same UTF-8 bytes);
 * - `json`, `jsonb`: text-like, but the result must stay valid JSON (jsonb's binary form adds a version byte);
 * - `integer`, `numeric`: not text, but a value can hold a card number or an SSN-like id: detectors read them;
 * - `array`: an array of text-like or numeric elements: detectors read the elements;
 * - `opaque`: types whose values cannot carry what detectors look for (booleans, floats, dates, times, uuids,
 *   network addresses, bytea): detectors skip them;
 * - `unknown`: anything else (enums, citext, composites, ranges, extension types): inspected in text format, and
 *   masked to NULL in binary format, where its bytes cannot be read.
 */
export type TypeClass = 'text' | 'json' | 'jsonb' | 'integer' | 'numeric' | 'array' | 'opaque' | 'unknown';

const CLASSES = new Map<number, TypeClass>();
function put(cls: TypeClass, oids: readonly number[]): void {
  for (const o of oids) CLASSES.set(o, cls);
}
put('text', [TypeOid.text, TypeOid.varchar, TypeOid.bpchar, TypeOid.name, TypeOid.xml, TypeOid.unknown]);
put('json', [TypeOid.json]);
put('jsonb', [TypeOid.jsonb]);
put('integer', [TypeOid.int2, TypeOid.int4, TypeOid.int8]);
put('numeric', [TypeOid.numeric]);
put('opaque', [
  TypeOid.bool, TypeOid.bytea, TypeOid.char, TypeOid.oid, TypeOid.cidr, TypeOid.float4, TypeOid.float8,
  TypeOid.money, TypeOid.macaddr, TypeOid.inet, TypeOid.date, TypeOid.time, TypeOid.timestamp,
  TypeOid.timestamptz, TypeOid.interval, TypeOid.timetz, TypeOid.bit, TypeOid.varbit, TypeOid.uuid,
]);
// Arrays of inspectable element types: name[], int2[], int4[], text[], bpchar[], varchar[], int8[], numeric[],
// json[], xml[], jsonb[].
put('array', [1003, 1005, 1007, 1009, 1014, 1015, 1016, 1231, 199, 143, 3807]);
// Arrays of opaque element types: bool[], bytea[], char[], oid[], float4[], float8[], timestamp[], date[], time[],
// timestamptz[], interval[], uuid[], inet[], cidr[], timetz[], money[], macaddr[], bit[], varbit[].
put('opaque', [1000, 1001, 1002, 1028, 1021, 1022, 1115, 1182, 1183, 1185, 1187, 2951, 1041, 651, 1270, 791, 1040, 1561, 1563]);

export interface ColumnType {
  /** The column's type OID from RowDescription (0 when the server did not say). */
  typeOid: number;
  /** The format code: 0 text, 1 binary. */
  format: 0 | 1;
  /**
   * Treat the column as text whatever its OID: for types with no fixed OID that are text on the wire and in binary
   * (citext, enums), once the caller has looked them up in pg_type.
   */
  textLike?: boolean;
}

export function typeClassOf(column: Pick<ColumnType, 'typeOid' | 'textLike'>): TypeClass {
  if (column.textLike) return 'text';
  return CLASSES.get(column.typeOid) ?? 'unknown';
}

/** The element class of an array element OID, for binary arrays. */
export function elementClassOf(oid: number): TypeClass {
  return CLASSES.get(oid) ?? 'unknown';
}
