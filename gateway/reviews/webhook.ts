/**
 * Per-connection webhooks, Slack-compatible: a JSON body with `text` (what Slack and most chat tools show) and
 * a `hoop` object with the event and the review for anything that wants structure. Fire and forget, bounded by
 * a timeout; a failing webhook is logged and never blocks a review.
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

export function webhookText(kind: ReviewEventKind, r: Review): string {
  const what = r.kind === 'statement'
    ? `run \`${oneLine(r.statement ?? '')}\` on *${r.connection}*`
    : `access *${r.connection}* for ${Math.round((r.duration_seconds ?? 0) / 60)} minutes`;
  if (kind === 'created') {
    return `:hourglass: ${r.requester} asks to ${what}${r.reason ? ` — “${r.reason}”` : ''}.\n`
      + `Review ${r.id}: \`hoop approve ${r.id}\` or \`hoop reject ${r.id}\` (approvers: ${r.approver_groups.join(', ')}).`;
  }
  const by = r.decisions.map((d) => `${d.approver} (${d.decision}${d.comment ? `: ${d.comment}` : ''})`).join(', ');
  const icon = r.status === 'approved' ? ':white_check_mark:' : ':no_entry:';
  return `${icon} Review ${r.id} ${r.status}: ${r.requester} may ${r.status === 'approved' ? '' : 'not '}${what}${by ? `. Decided by ${by}` : ''}.`;
}

export function createWebhookEvents(o: WebhookOptions): ReviewEvents {
  const post = o.fetch ?? fetch;
  return {
    reviewEvent(kind, review) {
      const url = o.urlFor(review.connection);
      if (!url) return;
      const body = JSON.stringify({ text: webhookText(kind, review), hoop: { event: `review.${kind}`, review } });
      void post(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(o.timeoutMs ?? 5000) })
        .then((res) => {
          if (!res.ok) o.logger.warn('webhook answered with an error', { connection: review.connection, status: res.status });
        })
        .catch((e: unknown) => o.logger.warn('webhook failed', { connection: review.connection, error: e }));
    },
  };
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? t.slice(0, 197) + '…' : t;
}
