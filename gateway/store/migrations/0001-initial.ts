import type { Migration } from '../migrate.js';

/** Grants and their decisions, sessions and statements, and the signing keys shared by gateway instances. */
export const initial: Migration = {
  id: 1,
  name: 'initial',
  up: `
CREATE TABLE grants (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  connection     text NOT NULL,
  subject        text NOT NULL,
  groups         text[] NOT NULL DEFAULT '{}',
  identity_kind  text NOT NULL,
  reason         text NULL,
  issued_at      timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  revoked_at     timestamptz NULL,
  revoked_by     text NULL,
  renewed_count  integer NOT NULL DEFAULT 0,
  CHECK (expires_at > issued_at)
);
CREATE INDEX grants_subject_idx ON grants (subject);
CREATE INDEX grants_live_expires_at_idx ON grants (expires_at) WHERE revoked_at IS NULL;

CREATE TABLE grant_decisions (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  subject     text NOT NULL,
  connection  text NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('issued', 'denied', 'renewed', 'revoked')),
  reason      text NOT NULL,
  grant_id    uuid NULL REFERENCES grants (id),
  details     jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE sessions (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  connection          text NOT NULL,
  subject             text NOT NULL,
  grant_id            uuid NULL REFERENCES grants (id),
  client_application  text NULL,
  client_user         text NULL,
  database            text NULL,
  client_addr         text NULL,
  started_at          timestamptz NOT NULL DEFAULT now(),
  ended_at            timestamptz NULL,
  end_reason          text NULL,
  bytes_from_client   bigint NOT NULL DEFAULT 0,
  bytes_to_client     bigint NOT NULL DEFAULT 0,
  statement_count     integer NOT NULL DEFAULT 0
);
CREATE INDEX sessions_started_at_idx ON sessions (started_at DESC);
CREATE INDEX sessions_subject_idx ON sessions (subject);
CREATE INDEX sessions_connection_idx ON sessions (connection);

CREATE TABLE statements (
  session_id     uuid NOT NULL REFERENCES sessions (id),
  seq            integer NOT NULL,
  text           text NOT NULL,
  parameters     jsonb NULL,
  protocol       text NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  duration_ms    double precision NULL,
  rows           bigint NULL,
  command_tag    text NULL,
  error_code     text NULL,
  error_message  text NULL,
  decision       text NOT NULL DEFAULT 'allow',
  details        jsonb NULL,
  PRIMARY KEY (session_id, seq)
);

CREATE TABLE gateway_keys (
  kid                    text PRIMARY KEY,
  alg                    text NOT NULL,
  public_jwk             jsonb NOT NULL,
  private_jwk_encrypted  bytea NULL,
  created_at             timestamptz NOT NULL DEFAULT now(),
  retired_at             timestamptz NULL
);
`,
};
