/**
 * What a review webhook sends a third party: never the statement's parameter values, and nothing a requester
 * wrote that Slack would read as markup (a mention, a link).
 */
import { describe, expect, it } from 'vitest';
import { createWebhookEvents, escapeSlack, webhookText } from '../../../../gateway/reviews/webhook.js';
import type { Review } from '../../../../shared/api/schemas.js';
import { createLogger } from '../../../../shared/log.js';

const REVIEW: Review = {
  id: '6f1c0d9e-0000-4000-8000-000000000001',
  kind: 'statement',
  connection: 'shop',
  requester: 'alice',
  reason: 'refund ticket 42',
  statement: 'UPDATE customers SET email = $1 WHERE ssn = $2',
  parameters: ['jane.doe@example.com', '078-05-1120'],
  rule: 'pii-updates',
  duration_seconds: null,
  approver_groups: ['dba'],
  min_approvals: 1,
  status: 'pending',
  created_at: '2025-01-01T00:00:00.000Z',
  expires_at: '2025-01-01T00:10:00.000Z',
  decided_at: null,
  decisions: [],
  can_decide: false,
};

/** Delivers one event through the real sender with a recording fetch; resolves with the JSON body posted. */
async function deliver(review: Review, kind: 'created' | 'decided' = 'created'): Promise<{ raw: string; body: { text: string; hoop: { event: string; review: Record<string, unknown> } } }> {
  let posted: string | undefined;
  const fetch = ((_url: string, init: { body: string }) => {
    posted = init.body;
    return Promise.resolve(new Response('ok'));
  }) as unknown as typeof globalThis.fetch;
  const events = createWebhookEvents({ logger: createLogger({ write: () => undefined }), urlFor: () => 'https://hooks.example.com/x', fetch });
  events.reviewEvent(kind, review);
  await new Promise((r) => setImmediate(r));
  expect(posted).toBeDefined();
  return { raw: posted!, body: JSON.parse(posted!) as never };
}

describe('review webhook', () => {
  it('never sends parameter values, only how many there are and where approvers see them', async () => {
    const { raw, body } = await deliver(REVIEW);
    expect(raw).not.toContain('jane.doe@example.com');
    expect(raw).not.toContain('078-05-1120');
    expect(body.hoop.review.parameters).toBeUndefined();
    expect(body.hoop.review.parameter_count).toBe(2);
    expect(body.hoop.review.id).toBe(REVIEW.id);
    expect(body.text).toContain('with 2 parameters (shown to approvers by `hoop approve`)');
  });

  it('says nothing of parameters when there are none', async () => {
    const { body } = await deliver({ ...REVIEW, statement: 'DELETE FROM orders', parameters: null });
    expect(body.hoop.review.parameter_count).toBe(0);
    expect(body.text).not.toContain('parameter');
  });

  it('escapes &, < and > in every requester-controlled string, so no mention or link reaches approvers', async () => {
    const evil: Review = {
      ...REVIEW,
      requester: 'mallory<!here>',
      reason: 'urgent <!channel> see <https://evil.example|approve here> & thanks',
      statement: "SELECT '<@U123>' -- <!everyone>",
      parameters: null,
    };
    const created = webhookText('created', evil);
    expect(created).not.toMatch(/[<>]/);
    expect(created).toContain('&lt;!channel&gt;');
    expect(created).toContain('&lt;https://evil.example|approve here&gt; &amp; thanks');
    expect(created).toContain('mallory&lt;!here&gt;');
    expect(created).toContain("`SELECT '&lt;@U123&gt;' -- &lt;!everyone&gt;`");
    const decided = webhookText('decided', {
      ...evil,
      status: 'rejected',
      decisions: [{ approver: 'bob', decision: 'reject', comment: 'no <!channel>', at: '2025-01-01T00:01:00.000Z' }],
    });
    expect(decided).not.toMatch(/[<>]/);
    expect(decided).toContain('bob (reject: no &lt;!channel&gt;)');
    // the access request's text too
    expect(webhookText('created', { ...evil, kind: 'access', statement: null, duration_seconds: 1800 })).not.toMatch(/[<>]/);
  });

  it('escapes & first, so an escape already written stays as the requester wrote it', () => {
    expect(escapeSlack('&lt;!channel&gt;')).toBe('&amp;lt;!channel&amp;gt;');
  });

  it('truncates a long statement before escaping, so no entity is cut in half', () => {
    const text = webhookText('created', { ...REVIEW, statement: 'x'.repeat(195) + '<<<<<<<<', parameters: null });
    expect(text).toContain('x'.repeat(195) + '&lt;&lt;…`');
  });
});
