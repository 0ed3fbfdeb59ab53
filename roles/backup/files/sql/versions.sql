-- Versions recorded in every manifest: PostgreSQL server version, TimescaleDB
-- extension version and edition, and whether the migration ledger exists.
SELECT current_setting('server_version'),
       current_setting('server_version_num'),
       coalesce((SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'), ''),
       coalesce(current_setting('timescaledb.license', true), ''),
       to_regclass('ms5_migrations.schema_migrations') IS NOT NULL;
