import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommitWriter } from '../../../gateway/recording/group-commit.js';
import { openDatabase, type Database } from '../../../gateway/store/db.js';
import { sqlRow } from '../../../gateway/store/sql-literal.js';
import { isHoopError } from '../../../shared/errors.js';
import { silentLogger } from '../../../shared/log.js';
import { freshDatabase, type FreshDatabase } from '../../helpers/pg.js';

let fresh: FreshDatabase;
let db: Database;
beforeAll(async () => {
  fresh = await freshDatabase('group_commit');
  db = openDatabase({ url: fresh.url, logger: silentLogger, max: 2 });
  await db.query('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
});
afterAll(async () => {
  await db.close();
  await fresh.drop();
});

const insert = (id: number, body: string | null) => (): string => `INSERT INTO notes (id, body) VALUES ${sqlRow([id, body])};`;

describe('GroupCommitWriter', () => {
  it('commits the writes of one tick in one transaction', async () => {
    const w = new GroupCommitWriter({ db, logger: silentLogger, asynchronousCommit: true });
    await Promise.all([1, 2, 3].map((i) => w.write(insert(i, `note ${i}`))));
    const r = await db.query<{ n: number; tx: number }>('SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS tx FROM notes WHERE id <= 3');
    expect(r.rows[0]).toEqual({ n: 3, tx: 1 });
  });

  it('renders a write when its batch is flushed, so it can still change while queued', async () => {
    const w = new GroupCommitWriter({ db, logger: silentLogger });
    let body = 'queued';
    const p = w.write(() => insert(4, body)());
    body = 'changed before the flush';
    await p;
    expect((await db.query('SELECT body FROM notes WHERE id = 4')).rows).toEqual([{ body: 'changed before the flush' }]);
  });

  it('loses only the bad write of a batch: its batch-mates are written one by one', async () => {
    const w = new GroupCommitWriter({ db, logger: silentLogger, asynchronousCommit: true });
    const results = await Promise.allSettled([w.write(insert(10, 'a')), w.write(insert(11, null)), w.write(insert(12, 'c'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const bad = results[1] as PromiseRejectedResult;
    expect(isHoopError(bad.reason) && bad.reason.code).toBe('audit_unavailable');
    expect((await db.query('SELECT id FROM notes WHERE id >= 10 ORDER BY id')).rows).toEqual([{ id: 10 }, { id: 12 }]);
  });

  it('lets lingering writes of different ticks share a transaction, and a plain write or flush take them along', async () => {
    const w = new GroupCommitWriter({ db, logger: silentLogger, asynchronousCommit: true, lingerMs: 60_000 });
    const txOf = async (ids: number[]): Promise<number> =>
      (await db.query<{ tx: number }>('SELECT count(DISTINCT xmin::text)::int AS tx FROM notes WHERE id = ANY($1)', [ids])).rows[0]!.tx;
    const first = w.write(insert(20, 'a'), { linger: true });
    await new Promise((r) => setTimeout(r, 20)); // later ticks
    const second = w.write(insert(21, 'b'), { linger: true });
    await new Promise((r) => setTimeout(r, 20));
    expect((await db.query('SELECT id FROM notes WHERE id IN (20, 21)')).rows).toEqual([]); // still waiting
    await Promise.all([first, second, w.write(insert(22, 'c'))]); // a plain write leaves at once, with them
    expect(await txOf([20, 21, 22])).toBe(1);
    const third = w.write(insert(23, 'd'), { linger: true });
    await w.flush();
    await third;
    expect((await db.query('SELECT id FROM notes WHERE id = 23')).rows).toEqual([{ id: 23 }]);
  });

  it('writes a lingering write on its own after lingerMs', async () => {
    const w = new GroupCommitWriter({ db, logger: silentLogger, asynchronousCommit: true, lingerMs: 30 });
    await w.write(insert(30, 'alone'), { linger: true });
    expect((await db.query('SELECT body FROM notes WHERE id = 30')).rows).toEqual([{ body: 'alone' }]);
  });
});
