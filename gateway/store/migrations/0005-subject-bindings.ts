import type { Migration } from '../migrate.js';

/**
 * Which identity-provider account owns each subject name. Grants, reviews, sessions and audit records are owned
 * by the name (`preferred_username`, `email`, a client id, a CI job's subject); a name is bound to the first
 * account (issuer and `sub`) that presents it, so another account that later claims it (a renamed user, an
 * unverified email) is refused instead of taking over what the name owns.
 */
export const subjectBindings: Migration = {
  id: 5,
  name: 'subject-bindings',
  up: `
CREATE TABLE subject_bindings (
  subject  text PRIMARY KEY,
  issuer   text NOT NULL,
  sub      text NOT NULL,
  kind     text NOT NULL,
  bound_at timestamptz NOT NULL DEFAULT now()
);
`,
};
