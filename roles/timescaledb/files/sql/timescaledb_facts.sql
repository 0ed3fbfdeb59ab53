-- Facts the other roles rely on (timescaledb_extension_version, _license, _postgres_version).
SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS extension_version,
       current_setting('timescaledb.license', true) AS license,
       split_part(current_setting('server_version'), ' ', 1) AS postgres_version
