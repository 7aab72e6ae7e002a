/**
 * The gateway's own messages reach the client in order among the server's answers: after the answers the server
 * still owes, or right before the ReadyForQuery that ends the pipeline being sent.
 */
import { describe, expect, it } from 'vitest';
import { TransactionStatus, encodeReadyForQuery } from '../../../../../gateway/engines/postgres/protocol/index.js';
import { ReplyOrder } from '../../../../../gateway/engines/postgres/reply-order.js';

const ready = (n: number): Buffer => Buffer.from(`server ready ${n}`);
const ours = (s: string): Buffer => Buffer.from(s);

describe('ReplyOrder', () => {
  it('counts ReadyForQuery owed and given', () => {
    const r = new ReplyOrder();
    expect(r.answered).toBe(true);
    r.owe();
    r.owe();
    expect([r.owed, r.seen, r.answered]).toEqual([2, 0, false]);
    r.ready(ready(1), [], TransactionStatus.Idle);
    expect([r.owed, r.seen, r.answered]).toEqual([2, 1, false]);
    r.ready(ready(2), [], TransactionStatus.Idle);
    expect(r.answered).toBe(true);
  });

  it('sends messages queued behind owed answers after the last of them, with a ReadyForQuery of the status then', () => {
    const r = new ReplyOrder();
    r.owe();
    r.owe();
    r.afterAnswers([ours('error')], true);
    const first: Buffer[] = [];
    r.ready(ready(1), first, TransactionStatus.Idle);
    expect(first).toEqual([ready(1)]);
    const second: Buffer[] = [];
    r.ready(ready(2), second, TransactionStatus.Failed);
    expect(second).toEqual([ready(2), ours('error'), encodeReadyForQuery(TransactionStatus.Failed)]);
  });

  it('sends a message for the end of the pipeline right before the ReadyForQuery of its Sync', () => {
    const r = new ReplyOrder();
    r.owe(); // an earlier pipeline, still being answered
    r.beforePipelineEnd([ours('error')]);
    r.owe(); // this pipeline's Sync
    const earlier: Buffer[] = [];
    r.ready(ready(1), earlier, TransactionStatus.Idle);
    expect(earlier).toEqual([ready(1)]);
    const end: Buffer[] = [];
    r.ready(ready(2), end, TransactionStatus.Idle);
    expect(end).toEqual([ours('error'), ready(2)]);
  });

  it('sends each queued message once', () => {
    const r = new ReplyOrder();
    r.owe();
    r.afterAnswers([ours('notice')], false);
    const out: Buffer[] = [];
    r.ready(ready(1), out, TransactionStatus.Idle);
    r.owe();
    r.ready(ready(2), out, TransactionStatus.Idle);
    expect(out).toEqual([ready(1), ours('notice'), ready(2)]);
  });
});
