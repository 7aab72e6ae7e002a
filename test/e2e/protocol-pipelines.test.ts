/**
 * What the gateway masks and approves must follow what the server runs, not what the client says it wants,
 * when a client pipelines: several statements before one Sync (libpq's pipeline mode), several Queries in one
 * write, a Parse of a name already in use (the server refuses it and keeps the old statement), a Query inside
 * an extended-protocol pipeline. Driven byte by byte through the real agent and gateway (test/helpers/pg-wire),
 * since no driver sends these on purpose; an attacker can.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { tunnelClient } from '../helpers/stack.js';
import { bind, describe as describeMsg, errors, execute, parse, query, rows, sync, tags } from '../helpers/pg-wire.js';
import { startProtocolStack, type ProtocolStack } from '../helpers/protocol-stack.js';

let p: ProtocolStack;

beforeAll(async () => {
  p = await startProtocolStack();
});

afterAll(async () => {
  await p?.close();
});

/** The local part of the raw email, as it would show in `lower(email)` unmasked. */
const rawLocal = (): string => p.email.split('@')[0]!.toLowerCase();
const LOWER_EMAIL = 'SELECT lower(email) AS v FROM customers WHERE id = 1';

describe('masking follows the server through pipelines', () => {
  it('masks each statement of one pipeline by its own statement (two unnamed statements before one Sync)', async () => {
    const out = await p.session(async (c) => {
      c.send(
        parse('', LOWER_EMAIL), bind('', ''), describeMsg('P', ''), execute(''),
        parse('', "SELECT 'plain' AS v"), bind('', ''), describeMsg('P', ''), execute(''),
        sync(),
      );
      return c.untilReady();
    });
    expect(errors(out)).toEqual([]);
    const [[first], [second]] = rows(out) as [[string], [string]];
    expect(first).not.toContain(rawLocal());
    expect(second).toBe('plain');
  });

  it('masks each of several Queries sent in one write by its own statement', async () => {
    const out = await p.session(async (c) => {
      c.send(query(LOWER_EMAIL), query("SELECT 'plain' AS v"));
      return c.untilReady(2);
    });
    const [[first], [second]] = rows(out) as [[string], [string]];
    expect(first).not.toContain(rawLocal());
    expect(second).toBe('plain');
  });

  it('keeps masking a prepared statement by its own text after a Parse of the same name is refused by the server', async () => {
    const out = await p.session(async (c) => {
      c.send(parse('s', LOWER_EMAIL), sync());
      expect(tags(await c.untilReady())).toBe('1Z');
      c.send(parse('s', "SELECT 'plain' AS v"), sync());
      const refused = await c.untilReady();
      expect(errors(refused)[0]).toMatchObject({ C: '42P05' }); // the server keeps the first statement
      c.send(bind('', 's'), describeMsg('P', ''), execute(''), sync());
      return c.untilReady();
    });
    const [[value]] = rows(out) as [[string]];
    expect(value).not.toContain(rawLocal());
  });

  it('masks COPY … TO STDOUT sent through the extended protocol, as through a simple Query', async () => {
    const out = await p.session(async (c) => {
      c.send(parse('', 'COPY (SELECT id, email FROM customers WHERE id = 1) TO STDOUT'), bind('', ''), describeMsg('P', ''), execute(''), sync());
      return c.untilReady();
    });
    expect(errors(out)).toEqual([]);
    const data = out.filter((m) => m.tag === 'd').map((m) => m.body.toString('utf8')).join('');
    const [id, value] = data.trimEnd().split('\t');
    expect(id).toBe('1');
    expect(value).toMatch(/^[a-z]\*\*\*@/); // partial: the first letter and the domain stay
    expect(value).not.toBe(p.email);
  });

  it('refuses a simple Query inside an unsynced pipeline, answers the rest of it, and goes on', async () => {
    await p.session(async (c) => {
      c.send(parse('', 'SELECT 1 AS one'), bind('', ''), describeMsg('P', ''), execute(''), query(LOWER_EMAIL), execute(''), sync());
      const out = await c.untilReady();
      // the pipeline's Execute ran; the Query and what followed it, up to Sync, did not
      expect(tags(out), JSON.stringify(errors(out))).toBe('12TDCEZ');
      expect(rows(out)).toEqual([['1']]);
      expect(errors(out)[0]).toMatchObject({ C: '08P01', R: 'hoop_usage' });
      expect(errors(out)[0]!.M).toContain('send Sync first');
      c.send(query("SELECT 'still here' AS v"));
      expect(rows(await c.untilReady())).toEqual([['still here']]);
    });
  });
});

describe('values in messages', () => {
  it('masks a masked column\'s value that an error quotes, in what the client gets and in the record', async () => {
    const c = tunnelClient(p.port);
    await c.connect();
    const e = (await c.query('SELECT email::uuid FROM customers WHERE id = 1').then(() => null, (x: unknown) => x)) as { code?: string; message: string } | null;
    await c.end();
    expect(e).toMatchObject({ code: '22P02' }); // the server's own error, still the client's to handle
    expect(e!.message).toBe('invalid input syntax for type uuid: "***"');
    const state = new pg.Client({ connectionString: p.stack.stateUrl });
    await state.connect();
    try {
      await expect.poll(async () => (await state.query(`SELECT error_message FROM statements WHERE text LIKE '%email::uuid%'`)).rows.map((r) => r.error_message as string))
        .toEqual(['invalid input syntax for type uuid: "***"']);
    } finally {
      await state.end();
    }
  });

  it('keeps the names the client wrote in an error, so mistakes stay readable', async () => {
    const c = tunnelClient(p.port);
    await c.connect();
    const e = (await c.query('SELECT emial FROM customers').then(() => null, (x: unknown) => x)) as { message: string } | null;
    await c.end();
    expect(e!.message).toBe('column "emial" does not exist');
  });

  it('masks what the detectors find in notices and notifications', async () => {
    const c = tunnelClient(p.port);
    await c.connect();
    const notices: string[] = [];
    const payloads: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ''));
    c.on('notification', (n) => payloads.push(n.payload ?? ''));
    await c.query('LISTEN hoop_test');
    await c.query(`DO $$ BEGIN RAISE NOTICE 'call jane.doe@corp.example'; END $$`);
    await c.query(`SELECT pg_notify('hoop_test', 'from mary.major@corp.example')`);
    await expect.poll(() => payloads.length).toBe(1);
    await c.end();
    expect(notices).toEqual(['call ***']);
    expect(payloads).toEqual(['from ***']);
  });
});

describe('approvals follow the server through pipelines', () => {
  it('does not run an approved prepared statement again after a refused Parse of its name', async () => {
    const exists = p.orderExists;
    expect(await exists(20)).toBe(true);
    expect(await exists(21)).toBe(true);
    await p.session(async (c) => {
      c.send(parse('d', 'DELETE FROM orders WHERE id = $1'), bind('', 'd', ['20']), execute(''), sync());
      // held until bob approves the review, which shows the parameters the pipeline binds
      const notice = (await p.pendingReview((r) => (r.parameters ?? [])[0] === '20')).id;
      expect(notice).not.toBe('');
      expect((await p.bob.hoop(['approve', notice])).code).toBe(0);
      const ran = await c.untilReady();
      expect(errors(ran)).toEqual([]);
      expect(await exists(20)).toBe(false);

      c.send(parse('d', 'SELECT 1'), sync());
      expect(errors(await c.untilReady())[0]).toMatchObject({ C: '42P05' }); // "d" is still the DELETE
      c.send(bind('', 'd', ['21']), execute(''), sync());
      const again = await c.untilReady();
      expect(errors(again)[0]).toMatchObject({ R: 'hoop_blocked' });
      expect(errors(again)[0]!.M).toContain('covers one execution');
    });
    expect(await exists(21)).toBe(true);
  });
});

describe('records follow the prepared statements SQL removes', () => {
  /** The texts recorded for statements whose text contains `marker`, or that name prepared statement `name`. */
  async function recorded(marker: string, name: string): Promise<string[]> {
    const state = new pg.Client({ connectionString: p.stack.stateUrl });
    await state.connect();
    try {
      const r = await state.query(`SELECT text FROM statements WHERE text LIKE $1 OR text = $2 ORDER BY started_at`, [`%${marker}%`, `(prepared statement "${name}")`]);
      return r.rows.map((x) => x.text as string);
    } finally {
      await state.end();
    }
  }

  /** Parses `name` as `first`, runs `release` (SQL), PREPAREs `name` again in SQL, and binds and runs it. */
  async function replaced(name: string, first: string, release: (c: Parameters<Parameters<ProtocolStack['session']>[0]>[0]) => Promise<void>, second: string): Promise<(string | null)[][]> {
    return p.session(async (c) => {
      c.send(parse(name, `SELECT '${first}' AS v`), sync());
      expect(errors(await c.untilReady())).toEqual([]);
      await release(c);
      c.send(query(`PREPARE ${name} AS SELECT '${second}' AS v`));
      expect(errors(await c.untilReady())).toEqual([]);
      c.send(bind('', name), describeMsg('P', ''), execute(''), sync());
      const out = await c.untilReady();
      expect(errors(out)).toEqual([]);
      return rows(out);
    });
  }

  it('does not record a Bind of a name DEALLOCATE freed and PREPARE reused with the old statement\'s text', async () => {
    const out = await replaced('r1', 'old-r1', async (c) => {
      c.send(query('DEALLOCATE r1'));
      expect(errors(await c.untilReady())).toEqual([]);
    }, 'new-r1');
    expect(out).toEqual([['new-r1']]); // the server ran the new statement
    // The Bind names a statement the gateway did not see parsed: recorded as such, not as the one DEALLOCATE freed.
    await expect.poll(() => recorded('old-r1', 'r1')).toEqual(['(prepared statement "r1")']);
  });

  it('does the same after DISCARD ALL, and after a DEALLOCATE sent through the extended protocol', async () => {
    const discarded = await replaced('r2', 'old-r2', async (c) => {
      c.send(query('DISCARD ALL'));
      expect(errors(await c.untilReady())).toEqual([]);
    }, 'new-r2');
    expect(discarded).toEqual([['new-r2']]);
    const extended = await replaced('r3', 'old-r3', async (c) => {
      c.send(parse('', 'DEALLOCATE r3'), bind('', ''), execute(''), sync());
      expect(errors(await c.untilReady())).toEqual([]);
    }, 'new-r3');
    expect(extended).toEqual([['new-r3']]);
    await expect.poll(async () => (await recorded('old-r2', 'r2')).concat(await recorded('old-r3', 'r3')).filter((t) => t.includes('old-')))
      .toEqual([]);
    expect(await recorded('new-r3', 'r3')).toContain('(prepared statement "r3")');
  });

  it('keeps a prepared statement\'s text when the DEALLOCATE did not run (an earlier statement of its Query failed)', async () => {
    await p.session(async (c) => {
      c.send(parse('r4', "SELECT 'kept-r4' AS v"), sync());
      expect(errors(await c.untilReady())).toEqual([]);
      c.send(query('SELECT 1/0; DEALLOCATE r4'));
      expect(errors(await c.untilReady())[0]).toMatchObject({ C: '22012' });
      c.send(bind('', 'r4'), describeMsg('P', ''), execute(''), sync());
      expect(rows(await c.untilReady())).toEqual([['kept-r4']]);
    });
    await expect.poll(() => recorded('kept-r4', 'r4')).toEqual(["SELECT 'kept-r4' AS v"]);
  });
});
