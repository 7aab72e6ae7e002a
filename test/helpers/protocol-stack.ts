/**
 * The stack the raw-protocol tests share: a shop connection with masking (`customers.email: partial`, the email
 * detector) and an approval rule on `DELETE FROM orders`, alice's tunnel to it, bob as approver, and a superuser
 * client to check what reached the database. A `scratch` table takes COPY FROM STDIN.
 */
import { expect } from 'vitest';
import pg from 'pg';
import { startStack, User, type Stack } from './stack.js';
import { WireClient } from './pg-wire.js';

export interface ProtocolStack {
  stack: Stack;
  bob: User;
  /** alice's tunnel port to `shop`. */
  port: number;
  admin: pg.Client;
  /** The raw email of customer 1. */
  email: string;
  /** A raw-protocol session through the tunnel, closed after `fn`. */
  session<T>(fn: (c: WireClient) => Promise<T>): Promise<T>;
  /** Whether order `id` is still in the database. */
  orderExists(id: number): Promise<boolean>;
  /** Polls bob's pending reviews for one matching `pred`. */
  pendingReview(pred: (r: PendingReview) => boolean): Promise<PendingReview>;
  close(): Promise<void>;
}

export interface PendingReview { id: string; statement: string | null; parameters: (string | null)[] | null }

export async function startProtocolStack(): Promise<ProtocolStack> {
  const stack = await startStack({
    shopExtra: `
    approvals:
      - name: order-deletes
        match: { statements: [delete], tables: [public.orders] }
        approvers: [dba]
        timeout: 2m
    masking:
      columns: { public.customers.email: partial }
      detectors: [email]`,
  });
  const admin = new pg.Client({ connectionString: stack.shopAdminUrl });
  await admin.connect();
  await admin.query(`CREATE TABLE scratch (id int); ALTER TABLE scratch OWNER TO ${stack.shopRole}`);
  const email = (await admin.query('SELECT email FROM customers WHERE id = 1')).rows[0].email as string;
  const alice = new User('alice', stack);
  const bob = new User('bob', stack);
  for (const u of [alice, bob]) expect((await u.login()).code).toBe(0);
  const { port } = await alice.connect('shop');
  return {
    stack, bob, port, admin, email,
    session: async (fn) => {
      const c = await WireClient.connect(port);
      try {
        return await fn(c);
      } finally {
        c.close();
      }
    },
    orderExists: async (id) => (await admin.query('SELECT 1 FROM orders WHERE id = $1', [id])).rowCount === 1,
    pendingReview: async (pred) => {
      for (let i = 0; i < 100; i++) {
        const pending = JSON.parse((await bob.hoop(['reviews', '--pending', '--json'])).stdout) as { reviews: PendingReview[] };
        const r = pending.reviews.find(pred);
        if (r) return r;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('no pending review');
    },
    close: async () => {
      await admin.end();
      await alice.stopAgent();
      await stack.close();
    },
  };
}
