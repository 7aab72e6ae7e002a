/**
 * Which reads of other people's sessions and statements are themselves evidence (`audit.read`), and what the
 * record says. Pure: the API appends the record, before it answers (if it cannot be written, the read fails).
 *
 * - A session's detail: recorded when it is someone else's (only an admin or auditor gets that far).
 * - The session list: recorded when an admin or auditor lists beyond their own sessions, whatever comes back.
 *   The filters search everyone's statements (`text`, `decision`), so even an empty answer tells something
 *   about others. Anyone listing only their own (everyone who is neither, or `user=<themselves>`) is not.
 * - Reviews (a held statement and its parameters): recorded when the answer holds a review the caller sees only
 *   through the admin or auditor role, neither as its requester nor as one of its approvers.
 * - Grants (who holds access to what, and their stated reasons): recorded when an admin lists everyone's
 *   (`hoop grants --all`) or opens someone else's.
 */
import type { Grant, Review, SessionDetail, SessionSummary } from '../../shared/api/schemas.js';
import type { Identity } from '../identity/identity.js';

/** The `data` of an `audit.read` record, or null when the read is not recorded. */
export type ReadRecord = Record<string, unknown> | null;

/** The filters of a session list, as the caller gave them (absent ones left out). */
export type SessionListQuery = Readonly<Record<string, string | undefined>>;

export function sessionDetailRead(viewer: Identity, detail: SessionDetail): ReadRecord {
  if (detail.session.subject === viewer.subject) return null;
  return { what: 'session', session_id: detail.session.id, subject: detail.session.subject };
}

/** `privileged`: the caller is an admin or auditor, so the list was not limited to their own sessions. */
export function sessionListRead(viewer: Identity, privileged: boolean, query: SessionListQuery, sessions: readonly SessionSummary[]): ReadRecord {
  if (!privileged || query.user === viewer.subject) return null;
  const filter = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined));
  return { what: 'sessions', filter, sessions: sessions.length, subjects: distinct(sessions.map((s) => s.subject).filter((s) => s !== viewer.subject)) };
}

/** `privileged` as above; `reviews` is what the caller is about to be sent. */
export function reviewListRead(viewer: Identity, privileged: boolean, pending: boolean, reviews: readonly Review[]): ReadRecord {
  const seen = privileged ? reviews.filter((r) => onlyThroughRole(viewer, r)) : [];
  if (seen.length === 0) return null;
  return { what: 'reviews', filter: { pending }, reviews: seen.length, requesters: distinct(seen.map((r) => r.requester)) };
}

export function reviewRead(viewer: Identity, privileged: boolean, review: Review): ReadRecord {
  if (!privileged || !onlyThroughRole(viewer, review)) return null;
  return { what: 'review', review_id: review.id, requester: review.requester };
}

/** `all`: the admin asked for everyone's grants (only admins may). */
export function grantListRead(viewer: Identity, all: boolean, active: boolean, grants: readonly Grant[]): ReadRecord {
  if (!all) return null;
  return { what: 'grants', filter: { active }, grants: grants.length, subjects: distinct(grants.map((g) => g.subject).filter((s) => s !== viewer.subject)) };
}

export function grantRead(viewer: Identity, grant: Grant): ReadRecord {
  if (grant.subject === viewer.subject) return null;
  return { what: 'grant', grant_id: grant.id, subject: grant.subject };
}

function onlyThroughRole(viewer: Identity, r: Review): boolean {
  return r.requester !== viewer.subject && !viewer.groups.some((g) => r.approver_groups.includes(g));
}

function distinct(xs: readonly string[]): string[] {
  return [...new Set(xs)].sort();
}
