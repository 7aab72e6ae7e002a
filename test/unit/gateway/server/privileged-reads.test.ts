/** Which reads of others' sessions, statements and reviews are recorded as `audit.read`, and what they say. */
import { describe, expect, it } from 'vitest';
import type { Grant, Review, SessionDetail, SessionSummary } from '../../../../shared/api/schemas.js';
import type { Identity } from '../../../../gateway/identity/identity.js';
import { grantListRead, grantRead, reviewListRead, reviewRead, sessionDetailRead, sessionListRead } from '../../../../gateway/server/privileged-reads.js';

const who = (subject: string, groups: string[] = []): Identity => ({ subject, groups, kind: 'user', issuer: 'https://idp', claims: {} });
const bob = who('bob', ['auditors', 'dba']);
const session = (subject: string, id = `00000000-0000-0000-0000-${subject.padStart(12, '0').slice(-12)}`): SessionSummary => ({
  id, connection: 'shop', subject, grant_id: null, client_application: null, client_user: null, database: null,
  started_at: '2026-01-02T00:00:00.000Z', ended_at: null, end_reason: null, bytes_from_client: 0, bytes_to_client: 0,
  statement_count: 0, identity: null,
});
const review = (requester: string, approverGroups: string[]): Review => ({
  id: `r-${requester}-${approverGroups.join('-')}`, kind: 'statement', connection: 'shop', requester, reason: null,
  statement: 'DELETE FROM orders WHERE id = 1', parameters: null, rule: 'order-deletes', duration_seconds: null,
  approver_groups: approverGroups, min_approvals: 1, status: 'pending', created_at: '2026-01-02T00:00:00.000Z',
  expires_at: '2026-01-02T01:00:00.000Z', decided_at: null, decisions: [], can_decide: false,
});

describe('sessionListRead', () => {
  it('records an admin\'s or auditor\'s list beyond their own sessions, with its filters, even when it is empty', () => {
    expect(sessionListRead(bob, true, { text: 'ssn', user: undefined }, [])).toEqual({ what: 'sessions', filter: { text: 'ssn' }, sessions: 0, subjects: [] });
    expect(sessionListRead(bob, true, {}, [session('carol'), session('alice'), session('bob'), session('alice', 'x')]))
      .toEqual({ what: 'sessions', filter: {}, sessions: 4, subjects: ['alice', 'carol'] });
    expect(sessionListRead(bob, true, { user: 'alice' }, [session('alice')])).toMatchObject({ filter: { user: 'alice' }, subjects: ['alice'] });
  });

  it('does not record a list of one\'s own sessions: everyone else\'s list, or a privileged list filtered to oneself', () => {
    expect(sessionListRead(who('alice'), false, {}, [session('alice')])).toBeNull();
    expect(sessionListRead(bob, true, { user: 'bob' }, [session('bob')])).toBeNull();
  });
});

describe('sessionDetailRead', () => {
  const detail = (subject: string): SessionDetail => ({ session: session(subject), statements: [] });
  it('records someone else\'s session, not one\'s own', () => {
    expect(sessionDetailRead(bob, detail('alice'))).toEqual({ what: 'session', session_id: session('alice').id, subject: 'alice' });
    expect(sessionDetailRead(bob, detail('bob'))).toBeNull();
  });
});

describe('reviewListRead and reviewRead', () => {
  it('record reviews seen only through the admin or auditor role', () => {
    const others = [review('alice', ['security']), review('carol', ['security']), review('alice', ['owners'])];
    expect(reviewListRead(bob, true, true, others)).toEqual({ what: 'reviews', filter: { pending: true }, reviews: 3, requesters: ['alice', 'carol'] });
    expect(reviewRead(bob, true, others[0]!)).toEqual({ what: 'review', review_id: others[0]!.id, requester: 'alice' });
  });

  it('do not record reviews one requested or may approve, nor anything for a caller without the role', () => {
    const mine = [review('bob', ['security']), review('alice', ['dba'])];
    expect(reviewListRead(bob, true, false, mine)).toBeNull();
    expect(reviewListRead(bob, true, false, [])).toBeNull();
    for (const r of mine) expect(reviewRead(bob, true, r)).toBeNull();
    const approver = who('dave', ['security']);
    expect(reviewListRead(approver, false, false, [review('alice', ['security'])])).toBeNull();
    expect(reviewRead(approver, false, review('alice', ['security']))).toBeNull();
  });
});

describe('grant reads', () => {
  const grant = (subject: string): Grant => ({
    id: `g-${subject}`, connection: 'shop', type: 'postgres', subject, groups: ['engineers'], reason: 'on call',
    issued_at: '2026-01-02T00:00:00.000Z', expires_at: '2026-01-02T01:00:00.000Z', revoked_at: null,
  });
  const admin = who('dana', ['admins']);
  it('records an admin\'s list of everyone\'s grants, with whose came back, and not a list of one\'s own', () => {
    expect(grantListRead(admin, true, true, [grant('alice'), grant('dana'), grant('bob'), grant('alice')]))
      .toEqual({ what: 'grants', filter: { active: true }, grants: 4, subjects: ['alice', 'bob'] });
    expect(grantListRead(admin, false, false, [grant('dana')])).toBeNull();
  });
  it('records opening someone else\'s grant, not one\'s own', () => {
    expect(grantRead(admin, grant('alice'))).toEqual({ what: 'grant', grant_id: 'g-alice', subject: 'alice' });
    expect(grantRead(admin, grant('dana'))).toBeNull();
  });
});
