-- ms5-cutover: how far the target database is set up (read-only). One JSON object.
SELECT json_build_object(
    'server_version', current_setting('server_version'),
    'major', current_setting('server_version_num')::int / 10000,
    'timescaledb', (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
    'license', current_setting('timescaledb.license', true),
    'user_schemas', (SELECT coalesce(json_agg(nspname ORDER BY nspname), '[]') FROM pg_namespace
                     WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public')
                       AND nspname NOT LIKE 'pg\_%' AND nspname NOT LIKE '\_timescaledb\_%'
                       AND nspname NOT LIKE 'timescaledb\_%'),
    'horizon', pg_snapshot_xmax(pg_current_snapshot())::text
)
