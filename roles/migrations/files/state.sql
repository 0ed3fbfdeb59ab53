-- migrations role, preflight: what the connecting role can see and do.
-- Read-only. Named argument: none.
SELECT
    current_user AS db_user,
    current_database() AS db_name,
    current_setting('server_version') AS server_version,
    (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'timescaledb') AS timescaledb_version,
    has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
    to_regclass('ms5_migrations.schema_migrations') IS NOT NULL AS ledger_exists
