-- ms5_timescaledb_info: the TimescaleDB version and edition (license) the database runs.
SELECT e.extversion AS version,
       coalesce(current_setting('timescaledb.license', true), '') AS license,
       1 AS info
FROM pg_catalog.pg_extension AS e
WHERE e.extname = 'timescaledb'
