import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../gateway/store/db.js';
import { sqlLiteral, sqlRow } from '../../../gateway/store/sql-literal.js';
import { silentLogger } from '../../../shared/log.js';
import { freshDatabase, type FreshDatabase } from '../../helpers/pg.js';

let fresh: FreshDatabase;
let db: Database;
beforeAll(async () => {
  fresh = await freshDatabase('sql_literal');
  db = openDatabase({ url: fresh.url, logger: silentLogger, max: 1 });
});
afterAll(async () => {
  await db.close();
  await fresh.drop();
});

describe('sqlLiteral', () => {
  it('round-trips hostile strings, numbers, booleans, dates and JSON through a real server unchanged', async () => {
    const texts = ["it's", 'back\\slash', "'); DROP TABLE t; --", '$$ dollar $$', 'é ü 中文 🎉', '\\x00', "E'\\''"];
    const when = new Date(Date.UTC(2026, 10, 21, 10, 30, 0, 123));
    const json = { a: "it's", b: ['\\', null, 1.5], c: { d: '"quoted"' } };
    const [res] = await db.withClient((c) => c.simple(
      `SELECT ${texts.map((t, i) => `${sqlLiteral(t)} AS t${i}`).join(', ')}, ${sqlLiteral(-42.5)} AS n, ${sqlLiteral(true)} AS b,
              ${sqlLiteral(when)} AS d, ${sqlLiteral({ json })} AS j, ${sqlLiteral(null)} AS z`,
    ));
    const row = res!.rows[0] as Record<string, unknown>;
    texts.forEach((t, i) => expect(row[`t${i}`]).toBe(t));
    expect(row).toMatchObject({ n: '-42.5', b: true, j: json, z: null });
    expect((row.d as Date).getTime()).toBe(when.getTime());
  });

  it('renders a VALUES row, and refuses numbers SQL cannot hold', () => {
    expect(sqlRow(['a', 1, null])).toBe("('a', 1, NULL)");
    for (const n of [NaN, Infinity, -Infinity]) expect(() => sqlLiteral(n)).toThrow(/SQL number/);
  });
});
