import type { Migration } from '../migrate.js';

/** Reviews: statements held for approval, and just-in-time access requests; grants limited to an approved window. */
export const reviews: Migration = {
  id: 3,
  name: 'reviews',
  up: `
CREATE TABLE reviews (
  id               uuid PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('statement', 'access')),
  connection       text NOT NULL,
  requester        text NOT NULL,
  requester_groups text[] NOT NULL DEFAULT '{}',
  reason           text NULL,
  statement        text NULL,
  parameters       jsonb NULL,
  statement_hash   text NULL,
  session_id       uuid NULL,
  rule             text NULL,
  duration_ms      bigint NULL,
  approver_groups  text[] NOT NULL,
  min_approvals    int NOT NULL CHECK (min_approvals >= 1),
  status           text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'used')),
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  decided_at       timestamptz NULL,
  used_at          timestamptz NULL,
  grant_id         uuid NULL
);
CREATE INDEX reviews_pending ON reviews (created_at DESC) WHERE status = 'pending';
CREATE INDEX reviews_requester ON reviews (requester, created_at DESC);

CREATE TABLE review_decisions (
  review_id  uuid NOT NULL REFERENCES reviews (id),
  approver   text NOT NULL,
  decision   text NOT NULL CHECK (decision IN ('approve', 'reject')),
  comment    text NULL,
  at         timestamptz NOT NULL,
  PRIMARY KEY (review_id, approver)
);

ALTER TABLE grants ADD COLUMN not_after timestamptz NULL;
ALTER TABLE grants ADD COLUMN review_id uuid NULL REFERENCES reviews (id);
`,
};
