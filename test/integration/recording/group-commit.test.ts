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
});
