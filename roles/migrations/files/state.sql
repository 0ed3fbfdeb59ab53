-- migrations role, preflight: what the connecting role can see and do, and which
-- of the objects the migration files create exist (one statement, one snapshot).
-- Read-only. Named argument objects: base64 of a JSON list of
-- {"kind": table|view|index|function, "schema", "name"}.
SELECT
    current_user AS db_user,
    current_database() AS db_name,
    current_setting('server_version') AS server_version,
    (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'timescaledb') AS timescaledb_version,
    has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
    to_regclass('ms5_migrations.schema_migrations') IS NOT NULL AS ledger_exists,
    (
        SELECT coalesce(json_agg(json_build_array(o.kind, o.schema, o.name)), '[]'::json)
        FROM json_to_recordset(convert_from(decode(%(objects)s, 'base64'), 'UTF8')::json)
            AS o (kind text, schema text, name text)
        WHERE CASE o.kind
            WHEN 'function' THEN EXISTS (
                SELECT 1
                FROM pg_catalog.pg_proc AS p
                INNER JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
                WHERE n.nspname = o.schema AND p.proname = o.name
            )
            ELSE to_regclass(format('%%I.%%I', o.schema, o.name)) IS NOT NULL
        END
    ) AS present_objects
