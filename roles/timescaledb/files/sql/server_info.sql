-- What the server offers: version, preloaded libraries, the TimescaleDB extension
-- available in the image and the one installed in this database (if any).
SELECT split_part(current_setting('server_version'), ' ', 1) AS postgres_version,
       current_setting('server_version_num')::int / 10000 AS postgres_major,
       current_setting('shared_preload_libraries') AS preload_libraries,
       (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available_version,
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed_version
