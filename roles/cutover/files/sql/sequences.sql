-- ms5-cutover: every user sequence with its position (read-only). One JSON array;
-- last_value is null for a sequence that was never used.
SELECT coalesce(json_agg(json_build_object(
           'sequence', s.schemaname || '.' || s.sequencename,
           'schema', s.schemaname, 'name', s.sequencename,
           'last_value', s.last_value) ORDER BY s.schemaname, s.sequencename), '[]')
FROM pg_sequences AS s
WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'ms5_migrations')
  AND s.schemaname NOT LIKE '\_timescaledb\_%'
  AND s.schemaname NOT LIKE 'timescaledb\_%'
