import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { openDatabase, type Database } from '../../../gateway/store/db.js';
import { quoteLiteral, sqlLiteral, sqlRow } from '../../../gateway/store/sql-literal.js';
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

  it('quotes any string exactly as libpq does (node-postgres escapeLiteral), and the server reads it back unchanged (property)', async () => {
    const tricky = fc.constantFrom("'", '\\', "''", '\\\\', "\\'", 'E', ' ', '\n');
    const text = fc.array(fc.oneof(tricky, fc.string({ unit: 'grapheme' })), { maxLength: 8 }).map((parts) => parts.join(''));
    fc.assert(fc.property(text, (s) => {
      expect(quoteLiteral(s)).toBe(pg.escapeLiteral(s));
    }), { numRuns: 2000 });
    const samples = fc.sample(text, 200).filter((s) => !s.includes('\u0000'));
    const [res] = await db.withClient((c) => c.simple(`SELECT ARRAY[${samples.map(sqlLiteral).join(', ')}]::text[] AS a`));
    expect((res!.rows[0] as { a: string[] }).a).toEqual(samples);
  });

  it('renders a VALUES row, and refuses numbers SQL cannot hold', () => {
    expect(sqlRow(['a', 1, null])).toBe("('a', 1, NULL)");
    for (const n of [NaN, Infinity, -Infinity]) expect(() => sqlLiteral(n)).toThrow(/SQL number/);
  });
});
