from django.db import migrations

# The append of one audit entry in one round trip (PostgreSQL): take the chain lock, read
# the head with a snapshot taken after the lock (each statement of a VOLATILE plpgsql
# function gets its own), hash with the formula of audits.chain (the same one
# audits.selectors verifies with), insert. The formula is part of the stored data: it never
# changes, so it is written out here rather than imported.
FUNCTION_SQL = r"""
CREATE OR REPLACE FUNCTION audits_header_part(value text) RETURNS text AS $$
    SELECT CASE WHEN value IS NULL THEN '-;' ELSE length(value)::text || ':' || value || ';' END
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION audits_append(
    p_created_at timestamptz, p_actor_id bigint, p_actor_username text, p_organisation_id bigint,
    p_subject_organisation_id bigint, p_jurisdiction_code text, p_ip text, p_action text,
    p_transition text, p_object_type text, p_object_id text, p_body text
) RETURNS TABLE (entry_id bigint, entry_seq bigint, entry_prev_hash text, entry_hash text) AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_hash text;
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(280603412820);  -- 0x4155444954, "AUDIT": the chain's lock
    SELECT e.seq, e.hash INTO v_seq, v_prev FROM audits_auditentry e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        v_seq := 0;
        v_prev := repeat('0', 64);  -- audits.models.GENESIS_HASH
    END IF;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(
        audits_header_part(v_seq::text)
        || audits_header_part(to_char(p_created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audits_header_part(p_actor_id::text)
        || audits_header_part(p_actor_username)
        || audits_header_part(p_organisation_id::text)
        || audits_header_part(p_subject_organisation_id::text)
        || audits_header_part(p_jurisdiction_code)
        || audits_header_part(p_ip)
        || audits_header_part(p_action)
        || audits_header_part(p_transition)
        || audits_header_part(p_object_type)
        || audits_header_part(p_object_id)
        || audits_header_part(v_prev)
        || E'\n' || p_body, 'UTF8')), 'hex');
    INSERT INTO audits_auditentry (seq, created_at, actor_id, actor_username, organisation_id,
                                   subject_organisation_id, jurisdiction_code, ip, action, transition,
                                   object_type, object_id, body, prev_hash, hash)
    VALUES (v_seq, p_created_at, p_actor_id, p_actor_username, p_organisation_id, p_subject_organisation_id,
            p_jurisdiction_code, p_ip, p_action, p_transition, p_object_type, p_object_id, p_body, v_prev, v_hash)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, v_seq, v_prev, v_hash;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

DROP_SQL = """
DROP FUNCTION IF EXISTS audits_append(timestamptz, bigint, text, bigint, bigint, text, text, text, text, text,
                                      text, text);
DROP FUNCTION IF EXISTS audits_header_part(text);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION_SQL, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    """audits_append(): one audit entry in one round trip on PostgreSQL (see FUNCTION_SQL)."""

    dependencies = [("audits", "0005_append_only_truncate")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
