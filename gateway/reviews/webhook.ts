/**
 * Per-connection webhooks, Slack-compatible: a JSON body with `text` (what Slack and most chat tools show) and
 * a `hoop` object with the event and the review for anything that wants structure. Fire and forget, bounded by
 * a timeout; a failing webhook is logged and never blocks a review.
 *
 * What leaves the gateway here goes to a third party, so two rules hold:
 * - Statement parameters are never sent (they are data, possibly personal, and masking does not apply to them
 *   here): only how many there are. Approvers see the values in `hoop approve`, behind their own login.
 * - Every string in `text` that a requester (or approver) wrote is escaped for Slack's markup, so a reason or a
 *   statement cannot mention `<!channel>` or show a link of its choosing to the approvers.
 */
import type { Logger } from '../../shared/log.js';
import type { Review } from '../../shared/api/schemas.js';
import type { ReviewEventKind, ReviewEvents } from './review-service.js';

export interface WebhookOptions {
  logger: Logger;
  urlFor: (connection: string) => string | undefined;
  /** How the approver decides, e.g. "hoop approve <id>". */
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** The review as the webhook carries it: everything but the parameter values, which become a count. */
export type WebhookReview = Omit<Review, 'parameters'> & { parameter_count: number };

export function webhookReview(r: Review): WebhookReview {
  const { parameters, ...rest } = r;
  return { ...rest, parameter_count: parameters?.length ?? 0 };
}

/**
 * Escapes the three characters Slack's markup gives meaning to (`<!channel>`, `<url|label>`); everything else
 * is left as written.
 * @see https://api.slack.com/reference/surfaces/formatting#escaping
 */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function webhookText(kind: ReviewEventKind, r: Review): string {
  const x = escapeSlack;
  const what = r.kind === 'statement'
    ? `run \`${x(oneLine(r.statement ?? ''))}\`${parameterNote(r.parameters)} on *${x(r.connection)}*`
    : `access *${x(r.connection)}* for ${Math.round((r.duration_seconds ?? 0) / 60)} minutes`;
  if (kind === 'created') {
    return `:hourglass: ${x(r.requester)} asks to ${what}${r.reason ? ` — “${x(r.reason)}”` : ''}.\n`
      + `Review ${x(r.id)}: \`hoop approve ${x(r.id)}\` or \`hoop reject ${x(r.id)}\` (approvers: ${x(r.approver_groups.join(', '))}).`;
  }
  const by = r.decisions.map((d) => `${x(d.approver)} (${d.decision}${d.comment ? `: ${x(d.comment)}` : ''})`).join(', ');
  const icon = r.status === 'approved' ? ':white_check_mark:' : ':no_entry:';
  return `${icon} Review ${x(r.id)} ${r.status}: ${x(r.requester)} may ${r.status === 'approved' ? '' : 'not '}${what}${by ? `. Decided by ${by}` : ''}.`;
}

export function createWebhookEvents(o: WebhookOptions): ReviewEvents {
  const post = o.fetch ?? fetch;
  return {
    reviewEvent(kind, review) {
      const url = o.urlFor(review.connection);
      if (!url) return;
      const body = JSON.stringify({ text: webhookText(kind, review), hoop: { event: `review.${kind}`, review: webhookReview(review) } });
      void post(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(o.timeoutMs ?? 5000) })
        .then((res) => {
          if (!res.ok) o.logger.warn('webhook answered with an error', { connection: review.connection, status: res.status });
        })
        .catch((e: unknown) => o.logger.warn('webhook failed', { connection: review.connection, error: e }));
    },
  };
}

/** Says that there are parameters, and where to see them, without their values. */
function parameterNote(parameters: Review['parameters']): string {
  const n = parameters?.length ?? 0;
  if (n === 0) return '';
  return ` with ${n} parameter${n === 1 ? '' : 's'} (shown to approvers by \`hoop approve\`)`;
}

/** Truncated before escaping, so an entity is never cut in half. */
function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? t.slice(0, 197) + '…' : t;
}
