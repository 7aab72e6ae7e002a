/**
 * Just-in-time access: a requester whose access needs approval asks, an approver decides, and the grant is
 * limited to the approved window. The connection's webhook hears of it (Slack-compatible JSON).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, tunnelClient, User, type Stack } from '../helpers/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

let stack: Stack;
let hook: WebhookReceiver;
let alice: User;
let bob: User;

beforeAll(async () => {
  hook = await startWebhookReceiver();
  stack = await startStack({
    extraUsers: [{ username: 'dana', password: 'dana', groups: ['dba'] }],
    extraConnections: `
  - name: vault
    type: postgres
    host: 127.0.0.1
    port: \${env:SHOP_PORT}
    database: \${env:SHOP_DB}
    user: \${env:SHOP_USER}
    password: \${env:SHOP_PW}
    tls: { mode: disable }
    access:
      groups: [engineers, dba]
      require_approval: { groups: [engineers], approvers: [dba], max_duration: 1h, timeout: 5m }
    webhook_url: ${hook.url}`,
  });
  alice = new User('alice', stack);
  bob = new User('bob', stack);
  expect((await alice.login()).code).toBe(0);
  expect((await bob.login()).code).toBe(0);
});

afterAll(async () => {
  await alice?.stopAgent();
  await bob?.stopAgent();
  await stack?.close();
  await hook?.close();
});

describe('just-in-time access reviews', () => {
  it('a request for access that needs no approval says so, and issues no grant at all', async () => {
    const before = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ id: string }> };
    const r = await alice.hoop(['request', 'shop', '--reason', 'just checking', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ approval_needed: false });
    const text = await alice.hoop(['request', 'shop', '--reason', 'just checking']);
    expect(text.stdout).toBe('Access to shop needs no approval for you: use `hoop connect shop`.\n');
    // Not even one issued and given back: alice's grant list (revoked ones included) is as it was.
    const after = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: Array<{ id: string }> };
    expect(after.grants.map((g) => g.id).sort()).toEqual(before.grants.map((g) => g.id).sort());
  });

  it('asks, shows the review to approvers only, refuses self-approval, and grants the approved window', async () => {
    const asked = await alice.hoop(['request', 'vault', '--reason', 'INC-42 refund check', '--duration', '30m', '--no-wait']);
    expect(asked.code, asked.stderr).toBe(0);
    const id = asked.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(asked.stderr).toContain(`they run \`hoop approve ${id}\``);

    // alice cannot connect yet: the same request is still pending (asked again, it is not duplicated)
    const early = await alice.hoop(['request', 'vault', '--reason', 'again', '--no-wait']);
    expect(early.stdout.trim()).toBe(id);

    const pending = JSON.parse((await bob.hoop(['reviews', '--pending', '--json'])).stdout) as { reviews: { id: string; can_decide: boolean; reason: string; duration_seconds: number }[] };
    expect(pending.reviews).toContainEqual(expect.objectContaining({ id, can_decide: true, reason: 'INC-42 refund check', duration_seconds: 1800 }));

    const own = await alice.hoop(['approve', id]);
    expect(own.code).toBe(4);
    expect(own.stderr).toContain('you cannot decide your own review');

    const approved = await bob.hoop(['approve', id, '--comment', 'ok for the incident']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain('Status: approved');
    const decidedAt = Date.now();

    const { port, grantId } = await alice.connect('vault');
    const c = tunnelClient(port);
    await c.connect();
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    await c.end();
    const grants = JSON.parse((await alice.hoop(['grants', '--json'])).stdout) as { grants: { id: string; expires_at: string }[] };
    const g = grants.grants.find((x) => x.id === grantId)!;
    const end = new Date(g.expires_at).getTime();
    expect(end).toBeLessThanOrEqual(decidedAt + 30 * 60_000);
    expect(end).toBeGreaterThan(decidedAt + 29 * 60_000);

    // the webhook heard both events, Slack-style
    await expect.poll(() => hook.received.filter((m) => m.hoop.review.id === id).map((m) => m.hoop.event)).toEqual(['review.created', 'review.decided']);
    const created = hook.received.find((m) => m.hoop.review.id === id)!;
    expect(created.text).toContain('alice asks to access *vault* for 30 minutes');
    expect(created.text).toContain(`hoop approve ${id}`);
  });

  it('tells the requester when the request is rejected (exit 7)', async () => {
    const carol = new User('alice', stack);
    expect((await carol.login()).code).toBe(0);
    const waiting = carol.hoop(['connect', 'vault', '--detach', '--reason', 'curious']);
    let id: string | undefined;
    await expect.poll(async () => {
      const list = JSON.parse((await bob.hoop(['reviews', '--pending', '--json'])).stdout) as { reviews: { id: string; reason: string }[] };
      id = list.reviews.find((r) => r.reason === 'curious')?.id;
      return id;
    }, { timeout: 15_000 }).toBeDefined();
    const rejected = await bob.hoop(['reject', id!, '--comment', 'no incident open']);
    expect(rejected.code, rejected.stderr).toBe(0);
    const r = await waiting;
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`review ${id} was rejected by bob: "no incident open"`);
  });

  it('lets groups outside require_approval connect directly', async () => {
    const dana = new User('dana', stack); // a dba, not an auditor (auditors may not connect)
    expect((await dana.login()).code).toBe(0);
    const { port } = await dana.connect('vault');
    const c = tunnelClient(port);
    await c.connect();
    expect((await c.query('SELECT 2 AS ok')).rows).toEqual([{ ok: 2 }]);
    await c.end();
    await dana.stopAgent();
  });

  it('refuses a non-approver\'s decision', async () => {
    const asked = await alice.hoop(['request', 'vault', '--reason', 'second look', '--no-wait']);
    const id = asked.stdout.trim();
    const dave = new User('alice', stack); // another engineer, not in dba
    expect((await dave.login()).code).toBe(0);
    const r = await dave.hoop(['reject', id]);
    expect(r.code).toBe(4);
  });
});
