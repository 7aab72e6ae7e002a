import type { Migration } from '../migrate.js';

/**
 * The tamper-evident audit chain (see gateway/audit/). Storage is lossless for what is hashed, because
 * verification recomputes every hash from these columns:
 * - `data` is the canonical JSON text (RFC 8785) that was hashed. jsonb would reorder keys, normalise
 *   numbers and refuse `\u0000`; query it with `data::jsonb`.
 * - `time` keeps microseconds, and records carry their time with exactly six fractional digits, so the
 *   hashed string is re-derived exactly (see `auditTime`).
 * - `session_id` is a uuid; the writer lowercases it, as PostgreSQL prints it.
 * Payloads (returned rows) sit apart so retention can delete them: the record keeps only their digest.
 * There is deliberately no foreign key from checkpoints to records: a checkpoint is evidence in its own right.
 */
export const audit: Migration = {
  id: 2,
  name: 'audit',
  up: `
CREATE TABLE audit_log (
  seq         bigint PRIMARY KEY CHECK (seq > 0),
  v           smallint NOT NULL DEFAULT 1,
  time        timestamptz NOT NULL,
  type        text NOT NULL,
  actor       text NULL,
  session_id  uuid NULL,
  connection  text NULL,
  data        text NOT NULL,
  prev_hash   text NOT NULL,
  hash        text NOT NULL
);
CREATE INDEX audit_log_time_idx ON audit_log (time, seq);
CREATE INDEX audit_log_type_time_idx ON audit_log (type, time);
CREATE INDEX audit_log_session_idx ON audit_log (session_id, seq) WHERE session_id IS NOT NULL;

CREATE TABLE audit_checkpoints (
  seq   bigint PRIMARY KEY,
  hash  text NOT NULL,
  time  timestamptz NOT NULL,
  kid   text NOT NULL,
  sig   text NOT NULL
);

CREATE TABLE audit_payloads (
  seq      bigint PRIMARY KEY REFERENCES audit_log (seq),
  payload  text NOT NULL
);
`,
};
