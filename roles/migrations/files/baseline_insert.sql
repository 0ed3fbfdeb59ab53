-- migrations role: record hand-applied versions (baseline adoption) under the
-- advisory lock. Named arguments: lock_key; applied_by; rows = base64 of a JSON
-- list of {"version", "name", "checksum"}.
SELECT pg_advisory_xact_lock(%(lock_key)s);

INSERT INTO ms5_migrations.schema_migrations
    (version, file_name, checksum_sha256, applied_at, duration_ms, applied_by, kind)
SELECT
    b.version,
    b.name,
    b.checksum,
    clock_timestamp(),
    0,
    format('%%s (%%s)', current_user, %(applied_by)s),
    'baseline'
FROM json_to_recordset(convert_from(decode(%(rows)s, 'base64'), 'UTF8')::json)
    AS b (version integer, name text, checksum text)
ON CONFLICT (version) DO NOTHING
