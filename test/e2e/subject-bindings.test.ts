/**
 * A subject name belongs to the first identity-provider account that presents it. Here the gateway names people
 * by their `name` claim, and the IdP has two accounts called "Alice Engineer": alice, and mallory, who set her
 * display name to alice's (an IdP that lets users edit their profile allows that). Mallory must get none of what
 * the name owns: alice's grants, sessions, reviews, or a second name to approve her own requests with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startStack, User, type Stack } from '../helpers/stack.js';

let stack: Stack;
let alice: User;
let mallory: User;

beforeAll(async () => {
  stack = await startStack({
    extraUsers: [{ username: 'mallory', password: 'mallory', name: 'Alice Engineer', groups: ['engineers'] }],
    identityExtra: '  username_claims: [name, sub]',
  });
  alice = new User('alice', stack);
  mallory = new User('mallory', stack);
});

afterAll(async () => {
  await stack?.close();
});

describe('one account per subject name', () => {
  it('refuses a second account that presents a name already bound to another, and records the attempt', async () => {
    expect((await alice.login()).code).toBe(0);
    const mine = await alice.hoop(['grants', '--json']);
    expect(mine.code, mine.stderr).toBe(0); // the name is now bound to alice's account

    await mallory.login(); // the IdP signs her in; the gateway decides what the name gets her
    const theirs = await mallory.hoop(['grants']);
    expect(theirs.code).toBe(4);
    expect(theirs.stderr).toContain('the name "Alice Engineer" belongs to another account of the identity provider');
    expect((await mallory.hoop(['connect', 'shop', '--detach'])).code).toBe(4);

    expect((await alice.hoop(['grants'])).code).toBe(0); // alice is unaffected

    const state = new pg.Client({ connectionString: stack.stateUrl });
    await state.connect();
    try {
      await expect.poll(async () => (await state.query(`SELECT data FROM audit_log WHERE type = 'auth.denied' AND data::jsonb->>'subject' = 'Alice Engineer'`)).rows.length)
        .toBeGreaterThan(0);
      const bound = await state.query(`SELECT sub FROM subject_bindings WHERE subject = 'Alice Engineer'`);
      expect(bound.rows).toEqual([{ sub: 'alice' }]);
    } finally {
      await state.end();
    }
  });
});
