import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSql } from '../../../../gateway/policy/sql/analyze.js';
import { createSqlParser, type SqlParser } from '../../../../gateway/policy/sql/parser.js';
import { HoopError } from '../../../../shared/errors.js';

const SAMPLES = [
  'SELECT email FROM customers',
  "SELECT 'héllo', upper(email) AS e FROM customers c WHERE c.id = 1; DELETE FROM t",
  'WITH x AS (DELETE FROM t RETURNING 1) SELECT 1',
  "DO $$ BEGIN EXECUTE 'DROP TABLE t'; PERFORM pg_terminate_backend(1); END $$",
  'DO $$ DECLARE v text; BEGIN EXECUTE v; END $$',
  "COPY (SELECT email FROM customers UNION SELECT 'x') TO STDOUT WITH (FORMAT csv)",
  'SELEC 1',
  '',
];

/** A multi-row INSERT of about `bytes` bytes. */
function bigInsert(bytes: number): string {
  const rows: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const row = `(${i}, 'name ${i}', 'user${i}@example.com', now())`;
    rows.push(row);
    size += row.length + 1;
  }
  return `INSERT INTO customers (id, name, email, created) VALUES ${rows.join(',')}`;
}

let main: SqlParser;
let worker: SqlParser;

beforeAll(async () => {
  main = await createSqlParser({ workerThresholdBytes: Number.MAX_SAFE_INTEGER });
  worker = await createSqlParser({ workerThresholdBytes: 0 });
});

afterAll(async () => {
  await main.close();
  await worker.close();
});

describe('the worker gives the same answers as the main thread', () => {
  it.each(SAMPLES)('%j', async (sql) => {
    expect(await worker.parse(sql)).toEqual(await main.parse(sql));
  });

  it('answers concurrent requests in any order, each with its own result', async () => {
    const results = await Promise.all(SAMPLES.map((s) => worker.parse(s)));
    const expected = await Promise.all(SAMPLES.map((s) => main.parse(s)));
    expect(results).toEqual(expected);
  });
});

describe('large statements', () => {
  it('parse a 300 KB statement without holding the event loop', async () => {
    const parser = await createSqlParser(); // default threshold: 64 KiB
    try {
      await parser.parse(bigInsert(70 * 1024)); // starts and warms the worker
      const sql = bigInsert(300 * 1024);
      expect(sql.length).toBeGreaterThan(300 * 1024);

      let last = performance.now();
      let maxGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 5);
      const started = performance.now();
      const result = await parser.parse(sql);
      const took = performance.now() - started;
      clearInterval(timer);

      expect(result.ok).toBe(true);
      if (result.ok) {
        expect(result.statements[0]).toMatchObject({ kind: 'insert', writtenTables: [{ schema: null, name: 'customers' }], functions: ['now'] });
      }
      // In the worker, ticks slip by a few ms while the parse takes 150 ms or more; on the main thread one tick
      // would slip by the whole parse. Bounds are generous for a busy 2-core machine.
      expect(maxGap).toBeLessThan(Math.max(50, took / 2));
      expect(maxGap).toBeLessThan(150);
    } finally {
      await parser.close();
    }
  });

  it('reports a large statement that does not parse as a result, not an error', async () => {
    const r = await worker.parse(`${bigInsert(100 * 1024)} ,`);
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/syntax error at end of input/) });
  });
});

describe('deeply nested statements', () => {
  const union = (n: number): string => Array<string>(n).fill('SELECT email FROM customers').join(' UNION ALL ');

  it('are walked in the worker when the main thread\'s stack is too small', async () => {
    const sql = union(20_000); // 580 KB, under this parser's 10 MB threshold: it starts on the main thread
    const p = await createSqlParser({ workerThresholdBytes: 10 * 1024 * 1024 });
    try {
      const r = await p.parse(sql);
      expect(r).toMatchObject({ ok: true, statements: [{ kind: 'select', setOperation: true, tables: [{ schema: null, name: 'customers' }] }] });
    } finally {
      await p.close();
    }
  });

  it('that no stack can walk are refused as unparsable, not thrown', () => {
    // 20,000 nested parentheses exceed PostgreSQL's own parser stack.
    expect(parseSql(`SELECT ${'('.repeat(20_000)}1${')'.repeat(20_000)}`)).toMatchObject({ ok: false, error: expect.stringMatching(/memory exhausted/) });
  });

  it('report a stack overflow as a result', () => {
    const r = parseSql(`SELECT ${Array<string>(50_000).fill('a').join(' + ')}`);
    // On this thread's stack: too deep to check (the service would retry in the worker).
    expect(r).toEqual({ ok: false, error: 'the statement is nested too deeply to be checked' });
  });
});

describe('lifecycle', () => {
  it('rejects requests after close(), and close() is idempotent', async () => {
    const p = await createSqlParser({ workerThresholdBytes: 0 });
    await p.parse('SELECT 1');
    await p.close();
    await p.close();
    await expect(p.parse('SELECT 1')).rejects.toBeInstanceOf(HoopError);
  });

  it('fails requests in flight when closed', async () => {
    const p = await createSqlParser({ workerThresholdBytes: 0 });
    const inFlight = expect(p.parse(bigInsert(200 * 1024))).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/closed/) });
    await p.close();
    await inFlight;
  });

  it('parses small statements on the main thread without starting a worker', async () => {
    const p = await createSqlParser();
    const r = await p.parse('SELECT 1');
    expect(r).toMatchObject({ ok: true, statements: [{ kind: 'select' }] });
    await p.close();
  });
});
