import { describe, expect, it } from 'vitest';
import { REPEAT_WINDOW_MS, ReadRecorder } from '../../../../gateway/server/read-recorder.js';

function recorder() {
  const written: { actor: string; data: Record<string, unknown> }[] = [];
  let t = Date.parse('2026-11-22T10:00:00Z');
  const r = new ReadRecorder(async (actor, data) => {
    written.push({ actor, data });
  }, () => new Date(t));
  return { r, written, advance: (ms: number) => (t += ms) };
}

describe('ReadRecorder', () => {
  it('records a repeated identical read once per window (a picker reloading every 3 s), and again after it', async () => {
    const { r, written, advance } = recorder();
    const read = { what: 'reviews', filter: { pending: true }, reviews: 2, requesters: ['alice'] };
    for (let i = 0; i < 10; i++) {
      await r.record('bob', { ...read });
      advance(3000);
    }
    expect(written).toHaveLength(1);
    advance(REPEAT_WINDOW_MS);
    await r.record('bob', read);
    expect(written).toHaveLength(2);
  });

  it('records at once a read that differs in anything the record says, or made by someone else', async () => {
    const { r, written } = recorder();
    await r.record('bob', { what: 'reviews', reviews: 2, requesters: ['alice'] });
    await r.record('bob', { what: 'reviews', reviews: 3, requesters: ['alice', 'carol'] });
    await r.record('dave', { what: 'reviews', reviews: 3, requesters: ['alice', 'carol'] });
    await r.record('bob', { what: 'sessions', filter: {}, sessions: 1, subjects: ['alice'] });
    await r.record('bob', null);
    expect(written.map((w) => `${w.actor} ${String(w.data.what)} ${String(w.data.reviews ?? w.data.sessions)}`)).toEqual([
      'bob reviews 2', 'bob reviews 3', 'dave reviews 3', 'bob sessions 1',
    ]);
  });

  it('fails when the record cannot be written, and does not count the failed read as recorded', async () => {
    const written: string[] = [];
    let up = false;
    const r = new ReadRecorder(async (actor) => {
      if (!up) throw new Error('store down');
      written.push(actor);
    }, () => new Date('2026-11-22T10:00:00Z'));
    await expect(r.record('bob', { what: 'session', session_id: 'x' })).rejects.toThrow('store down');
    up = true; // the store back: the same read is recorded now, not skipped as a repeat of the one that failed

    await r.record('bob', { what: 'session', session_id: 'x' });
    expect(written).toEqual(['bob']);
  });
});
