/**
 * The COPY out path through the engine: a batch's run of CopyData frames is masked into one buffer of CopyData
 * messages (ResultMasker.rewriteCopyData) and recorded in one call (ResultCapture.copyData). Both must give what
 * the frame-at-a-time path gives.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { toMaskingRules } from '../../../../../gateway/config/masking-schema.js';
import type { Catalog } from '../../../../../gateway/engines/postgres/catalog.js';
import { createFramer, type Frame } from '../../../../../gateway/engines/postgres/protocol/index.js';
import { ResultCapture } from '../../../../../gateway/engines/postgres/result-capture.js';
import { ResultMasker } from '../../../../../gateway/engines/postgres/result-masker.js';
import { coalesce, joinFrames } from '../../../../../gateway/engines/postgres/write-batch.js';
import { loadSqlModule, parseSql } from '../../../../../gateway/policy/sql/analyze.js';
import { int16, int8, msg } from '../../../../helpers/pg-bytes.js';

const catalog: Catalog = { origins: () => Promise.resolve([]), tableColumns: () => Promise.resolve(['id', 'email', 'note']), close: () => Promise.resolve() };
const rules = toMaskingRules({ columns: { 'public.t.email': 'partial' }, detectors: [], detector_strategy: 'redact' })!;
const copyOut = msg('H', int8(0), int16(3), int16(0), int16(0), int16(0));

beforeAll(async () => {
  await loadSqlModule();
});

/** A masker that has planned `COPY public.t TO STDOUT`, as the session leaves it at CopyOutResponse. */
async function copyMasker(sql = 'COPY public.t TO STDOUT'): Promise<ResultMasker> {
  const parsed = parseSql(sql);
  if (!parsed.ok) throw new Error(parsed.error);
  const m = new ResultMasker(rules, catalog, Buffer.from('k'));
  m.query(parsed.statements);
  const [f] = createFramer({ startup: false, maxLength: 1 << 20 }).push(copyOut);
  await m.prepare(f!);
  m.rewrite(f!);
  return m;
}

/** The frames of `wire`, as the framer hands them to the session. */
function framesOf(...messages: Buffer[]): Frame[] {
  return createFramer({ startup: false, maxLength: 1 << 20 }).push(Buffer.concat(messages));
}

const data = (s: string): Buffer => msg('d', Buffer.from(s));

/** The payloads of the CopyData messages in `buf`. */
function payloads(buf: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < buf.length; ) {
    expect(buf[at]).toBe(0x64);
    const end = at + 1 + buf.readInt32BE(at + 1);
    out.push(buf.toString('utf8', at + 5, end));
    at = end;
  }
  return out;
}

describe('ResultMasker.rewriteCopyData', () => {
  const rows = ['1\talice@example.com\tx\n', '2\t\\N\ty\n', '3\tbob@example.org\tz\n'];

  it('masks a run into one buffer, a message per message in, the same bytes as frame by frame', async () => {
    const frames = framesOf(...rows.map(data));
    const run = (await copyMasker()).rewriteCopyData(frames);
    expect(payloads(run)).toEqual(['1\ta***@example.com\tx\n', '2\t\\N\ty\n', '3\tb***@example.org\tz\n']);
    const single = await copyMasker();
    expect(run.equals(Buffer.concat(frames.flatMap((f) => single.rewrite(f))))).toBe(true);
  });

  it('sends a row split across messages in the message that completes it, and nothing for a message that completes none', async () => {
    const frames = framesOf(data('1\talice@exa'), data('mple.com\tx\n2\t'), data('\\N\t'), data('y\n'));
    const m = await copyMasker();
    expect(payloads(m.rewriteCopyData(frames.slice(0, 3)))).toEqual(['1\ta***@example.com\tx\n']);
    expect(payloads(m.rewriteCopyData(frames.slice(3)))).toEqual(['2\t\\N\ty\n']);
  });

  it('passes the run through as one slice of its chunk when the COPY is not masked', async () => {
    const m = await copyMasker('COPY (SELECT 1) TO STDOUT');
    const wire = Buffer.concat(rows.map(data));
    const frames = createFramer({ startup: false, maxLength: 1 << 20 }).push(wire);
    const out = m.rewriteCopyData(frames);
    expect(out.equals(wire)).toBe(true);
    expect(out.buffer).toBe(wire.buffer);
  });
});

describe('ResultCapture.copyData', () => {
  // A payload of 6 bytes has length word 10 (0x0a): its header holds a newline byte that is not a row.
  const messages = [data('a\tb\n'), data('1\tx\n\n'), data('c\td\ne\t'), data('f\n'), data('ghijk\n'), data('no newline')];

  it.each([1, 2, 3, 100])('records the same rows, count and digest for a run as message by message (cap %i rows)', (cap) => {
    const one = new ResultCapture({ rows: cap, bytes: 1 << 20 });
    for (const m of messages) one.copyData(m);
    const run = new ResultCapture({ rows: cap, bytes: 1 << 20 });
    run.copyData(Buffer.concat(messages.slice(0, 2)));
    run.copyData(Buffer.concat(messages.slice(2)));
    expect(run.take()).toEqual(one.take());
  });
});

describe('coalesce and joinFrames', () => {
  it('merge adjacent slices of one chunk without copying, and copy the rest once', () => {
    const chunk = Buffer.from('aabbccdd');
    const other = Buffer.from('xx');
    const parts = [chunk.subarray(0, 2), chunk.subarray(2, 4), chunk.subarray(4, 6), other, chunk.subarray(6, 8)];
    const merged = coalesce(parts);
    expect(merged.map((b) => b.toString())).toEqual(['aabbcc', 'xx', 'dd']);
    expect(merged[0]!.buffer).toBe(chunk.buffer);
    expect(joinFrames(parts.slice(0, 3)).buffer).toBe(chunk.buffer);
    expect(joinFrames(parts).toString()).toBe('aabbccxxdd');
    expect(coalesce([])).toEqual([]);
  });
});

describe('ResultCapture.copyData counts', () => {
  it('a row per CopyData message (the protocol sends one per row), keeping each as its line until the cap', () => {
    // csv: a quoted value may hold a newline; the row is still one message and one row.
    const messages = [data('1,"two\nlines"\n'), data('2,plain\n'), data('3,x\n')];
    const capture = new ResultCapture({ rows: 2, bytes: 1 << 20 });
    capture.copyData(Buffer.concat(messages));
    const got = capture.take()!;
    expect(got.rowCount).toBe(3);
    expect(got.rows).toEqual([['1,"two\nlines"'], ['2,plain']]);
    expect(got.truncated).toBe(true);
  });
});
