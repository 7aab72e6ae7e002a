import type { Migration } from '../migrate.js';

/**
 * A guard the audit log calls inside its batch transaction, after taking the chain lock: it raises HA001 unless
 * the chain's head is the record this instance last wrote. That lets an instance that wrote the head append its
 * next batch in one round trip (lock, check, inserts, commit) and re-read the head only when another instance
 * (or an operator) moved it.
 */
export const auditHeadCheck: Migration = {
  id: 4,
  name: 'audit-head-check',
  up: `
CREATE FUNCTION hoop_audit_expect_head(expected_seq bigint, expected_hash text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  head_seq  bigint;
  head_hash text;
BEGIN
  SELECT seq, hash INTO head_seq, head_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
  IF head_seq IS DISTINCT FROM expected_seq OR head_hash IS DISTINCT FROM expected_hash THEN
    RAISE EXCEPTION 'the audit chain head moved (expected seq %, found %)', expected_seq, head_seq USING ERRCODE = 'HA001';
  END IF;
END
$$;
`,
};
