/**
 * The gateway's grant watcher: which live tunnels it ends, and why. Liveness is read from the database, so a
 * tick can be slow; tunnels that come and go while it runs must be judged correctly.
 */
import { describe, expect, it } from 'vitest';
import { GrantWatcher } from '../../../../gateway/grants/grant-watcher.js';
import { createLogger } from '../../../../shared/log.js';
import type { HoopError } from '../../../../shared/errors.js';

type Liveness = Map<string, { expiresAt: Date; revoked: boolean }>;
const logger = createLogger({ level: 'silent', format: 'text' });
const later = new Date(Date.now() + 3_600_000);

/** A liveness source whose answers the test releases by hand, recording which ids each query asked about. */
function slowLiveness(rows: Record<string, { revoked: boolean; expiresAt?: Date }>) {
  const asked: string[][] = [];
  const pending: Array<() => void> = [];
  return {
    asked,
    answerAll: () => pending.splice(0).forEach((f) => f()),
    grants: {
      liveness: (ids: readonly string[]): Promise<Liveness> => {
        asked.push([...ids]);
        return new Promise((resolve) => pending.push(() => {
          const out: Liveness = new Map();
          for (const id of ids) {
            const r = rows[id];
            if (r) out.set(id, { expiresAt: r.expiresAt ?? later, revoked: r.revoked });
          }
          resolve(out);
        }));
      },
    },
  };
}

function ended(): { reasons: HoopError[]; terminate: (e: HoopError) => void } {
  const reasons: HoopError[] = [];
  return { reasons, terminate: (e) => reasons.push(e) };
}

describe('GrantWatcher', () => {
  it('ends a tunnel whose grant was revoked, and leaves a live one alone', async () => {
    const src = slowLiveness({ live: { revoked: false }, gone: { revoked: true } });
    const w = new GrantWatcher({ grants: src.grants, logger });
    const a = ended();
    const b = ended();
    w.track('live', 'shop', later, a.terminate);
    w.track('gone', 'shop', later, b.terminate);
    const tick = w.tick();
    src.answerAll();
    await tick;
    expect(a.reasons).toEqual([]);
    expect(b.reasons.map((e) => e.code)).toEqual(['grant_revoked']);
    expect(w.size).toBe(1);
  });

  it('does not end a tunnel tracked while a check was running (its grant was not asked about)', async () => {
    const src = slowLiveness({ old: { revoked: false }, fresh: { revoked: false } });
    const w = new GrantWatcher({ grants: src.grants, logger });
    const first = ended();
    const second = ended();
    w.track('old', 'shop', later, first.terminate);
    const tick = w.tick();
    // A new client connects (a new session on a new grant) while the database is still answering.
    w.track('fresh', 'shop', later, second.terminate);
    src.answerAll();
    await tick;
    expect(src.asked).toEqual([['old']]);
    expect(second.reasons).toEqual([]);
    expect(first.reasons).toEqual([]);
    expect(w.size).toBe(2);
    // The next check asks about both.
    const next = w.tick();
    src.answerAll();
    await next;
    expect(src.asked[1]!.sort()).toEqual(['fresh', 'old']);
  });

  it('does not end a tunnel that ended by itself while a check was running', async () => {
    const src = slowLiveness({});
    const w = new GrantWatcher({ grants: src.grants, logger });
    const t = ended();
    const untrack = w.track('missing', 'shop', later, t.terminate);
    const tick = w.tick();
    untrack();
    src.answerAll();
    await tick;
    expect(t.reasons).toEqual([]);
  });

  it('checks expiry alone when the database cannot be read', async () => {
    const w = new GrantWatcher({ grants: { liveness: () => Promise.reject(new Error('db down')) }, logger });
    const live = ended();
    const past = ended();
    w.track('a', 'shop', later, live.terminate);
    w.track('b', 'shop', new Date(Date.now() - 1000), past.terminate);
    await w.tick();
    expect(live.reasons).toEqual([]);
    expect(past.reasons.map((e) => e.code)).toEqual(['grant_expired']);
  });
});
