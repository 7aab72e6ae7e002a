/**
 * A pipeline held for approval is collected up to its Sync with the parameters of the Bind of the held statement,
 * and only a pipeline that runs it exactly once (one Bind, one Execute of that portal) can be approved.
 */
import { describe, expect, it } from 'vitest';
import { ApprovalHold, unapprovable } from '../../../../../gateway/engines/postgres/approval-hold.js';
import { createFramer, type Frame } from '../../../../../gateway/engines/postgres/protocol/index.js';
import type { ApprovalRule } from '../../../../../gateway/policy/guardrails.js';
import { cstr, int16, int32, lenBytes, msg } from '../../../../helpers/pg-bytes.js';

const rule: ApprovalRule = { name: 'deletes', statements: ['delete'], tables: [], approvers: ['dba'], min_approvals: 1, timeout_ms: 60_000 };

function frame(wire: Buffer): Frame {
  const [f] = createFramer({ startup: false, maxLength: 1 << 20 }).push(wire);
  return f!;
}

const parse = (name: string, sql: string): Frame => frame(msg('P', cstr(name), cstr(sql), int16(0)));
const bind = (portal: string, statement: string, ...params: string[]): Frame =>
  frame(msg('B', cstr(portal), cstr(statement), int16(0), int16(params.length), ...params.map((p) => lenBytes(p)), int16(0)));
const execute = (portal: string): Frame => frame(msg('E', cstr(portal), int32(0)));
const sync = frame(msg('S'));

/** Holds a pipeline that starts with Parse of `s1` and feeds it `rest`; returns what the Sync gave back. */
function held(...rest: Frame[]): ReturnType<ApprovalHold['add']> {
  const h = new ApprovalHold();
  h.hold(parse('s1', 'DELETE FROM t WHERE id = $1'), 's1', 'DELETE FROM t WHERE id = $1', rule);
  let out: ReturnType<ApprovalHold['add']> = null;
  for (const f of rest) {
    expect(h.holding).toBe(true);
    out = h.add(f);
  }
  expect(h.holding).toBe(false);
  return out;
}

describe('ApprovalHold', () => {
  it('holds the pipeline up to its Sync, with the held statement\'s Bind parameters', () => {
    const p = held(bind('p1', 's1', '42'), execute('p1'), sync)!;
    expect(p.frames).toHaveLength(4);
    expect(p.params).toEqual(['42']);
    expect([p.binds, p.executes]).toEqual([['p1'], ['p1']]);
    expect(unapprovable(p)).toBeNull();
  });

  it('ignores Binds of other statements for the parameters', () => {
    const p = held(bind('p1', 's1', '42'), bind('p2', 'other', '7'), execute('p1'), sync)!;
    expect(p.params).toEqual(['42']);
    expect(unapprovable(p)).toBeNull();
  });

  it('refuses a pipeline that would run the statement other than once, with the parameters seen', () => {
    const cases: [Frame[], RegExp][] = [
      [[bind('p1', 's1', '1'), execute('p1'), execute('p1'), sync], /this pipeline executes 2 times/],
      [[sync], /send Parse, one Bind and one Execute of it before Sync/],
      [[bind('p1', 's1', '1'), sync], /one Bind and one Execute/],
      [[bind('p1', 's1', '1'), execute('p2'), sync], /one Bind and one Execute/],
      [[bind('p1', 's1', '1'), bind('p2', 's1', '2'), execute('p1'), sync], /one Bind and one Execute/],
    ];
    for (const [rest, why] of cases) {
      const err = unapprovable(held(...rest)!);
      expect(err?.code).toBe('blocked');
      expect(err?.message).toMatch(why);
      expect(err?.message).toMatch(/\(rule deletes\)$/);
    }
  });

  it('lets the approved statement through once, and only that text', () => {
    const h = new ApprovalHold();
    h.preapprove('DELETE FROM t', { rule: 'deletes', review_id: 'r1' });
    expect(h.takePreapproved('DELETE FROM u')).toBeUndefined();
    expect(h.takePreapproved('DELETE FROM t')).toEqual({ rule: 'deletes', review_id: 'r1' });
    expect(h.takePreapproved('DELETE FROM t')).toBeUndefined();
  });

  it('interrupts only a wait in progress', () => {
    expect(new ApprovalHold().interrupt()).toBe(false);
  });
});
