-- migrations role: the ledger rows, oldest first. Read-only.
SELECT
    version,
    file_name,
    checksum_sha256,
    to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS applied_at,
    duration_ms,
    applied_by,
    kind
FROM ms5_migrations.schema_migrations
ORDER BY version
