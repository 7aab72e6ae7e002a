/**
 * Getting a grant from the CLI, including just-in-time access: when the gateway answers with an access review,
 * show its id and wait for an approver's decision, then ask again (the approved review becomes the grant).
 */
import { HoopError } from '../../shared/errors.js';
import type { Grant, GrantRequest, Review } from '../../shared/api/schemas.js';
import { withTimeout } from '../../shared/timeout.js';
import type { CliContext } from './context.js';
import { clockTime } from '../ui/time.js';

export type GrantWithToken = Grant & { token: string };

export interface ObtainOptions {
  /** Wait for a decision (people); false answers at once with approval_pending (scripts that did not ask to wait). */
  wait: boolean;
  /** Longest wait; default: the review's own deadline. */
  waitMs?: number;
  pollMs?: number;
}

export async function obtainGrant(c: CliContext, gatewayUrl: string, req: GrantRequest, o: ObtainOptions): Promise<GrantWithToken> {
  const api = c.gateway(gatewayUrl);
  const first = await api.requestGrant(req);
  if ('grant' in first) return withToken(first.grant);
  const review = first.review;
  announce(c, review);
  if (!o.wait) {
    throw new HoopError('approval_pending', `access to "${review.connection}" is waiting for approval: review ${review.id}`, {
      hint: `ask an approver to run \`hoop approve ${review.id}\`, then run this again`,
      details: { review_id: review.id },
    });
  }
  const decided = await waitForDecision(c, gatewayUrl, review, o);
  if (decided.status === 'approved') {
    const second = await api.requestGrant({ ...req, review_id: review.id });
    if ('grant' in second) {
      c.out.info(`Approved by ${approvers(decided)}: access until ${clockTime(second.grant.expires_at, c.now())}.`);
      return withToken(second.grant);
    }
    throw new HoopError('internal', `review ${review.id} was approved, but the gateway issued no grant`);
  }
  throw decisionError(decided);
}

export async function waitForDecision(c: CliContext, gatewayUrl: string, review: Review, o: { waitMs?: number; pollMs?: number }): Promise<Review> {
  const api = c.gateway(gatewayUrl);
  const deadline = Math.min(new Date(review.expires_at).getTime(), o.waitMs === undefined ? Infinity : Date.now() + o.waitMs);
  let current = review;
  while (current.status === 'pending' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
    current = await api.review(review.id);
  }
  return current;
}

export function decisionError(r: Review): HoopError {
  const by = r.decisions.filter((d) => d.decision === 'reject').map((d) => `${d.approver}${d.comment ? `: "${d.comment}"` : ''}`).join(', ');
  if (r.status === 'rejected') return new HoopError('approval_rejected', `review ${r.id} was rejected${by ? ` by ${by}` : ''}`);
  if (r.status === 'pending' || r.status === 'expired') {
    return new HoopError('approval_timeout', `review ${r.id} was not decided in time`, { hint: 'ask an approver, then try again' });
  }
  return new HoopError('conflict', `review ${r.id} is ${r.status}`);
}

function announce(c: CliContext, r: Review): void {
  const minutes = Math.round((r.duration_seconds ?? 0) / 60);
  c.out.info(`Access to ${r.connection} needs approval (${minutes} min${r.reason ? `, reason: ${r.reason}` : ''}).`);
  c.out.info(`Review ${r.id} is waiting for ${r.approver_groups.join(' or ')}: they run \`hoop approve ${r.id}\`.`);
}

function approvers(r: Review): string {
  return r.decisions.filter((d) => d.decision === 'approve').map((d) => d.approver).join(', ');
}

function withToken(g: Grant): GrantWithToken {
  if (!g.token) throw new HoopError('internal', 'the gateway issued a grant without its token');
  return { ...g, token: g.token };
}

/** How long giving a grant back may take before the command goes on anyway (the grant then simply expires). */
const GIVE_BACK_WAIT_MS = 3000;

/**
 * Gives back (revokes) a grant the command has no more use for, so it does not stay live for the rest of its
 * length: best effort and bounded in time. Resolves with the grant as revoked, or undefined when it could not be.
 */
export async function giveBackGrant(c: CliContext, gatewayUrl: string, grantId: string): Promise<Grant | undefined> {
  return withTimeout(c.gateway(gatewayUrl).revokeGrant(grantId), GIVE_BACK_WAIT_MS).then((r) => r.grant, () => undefined);
}
