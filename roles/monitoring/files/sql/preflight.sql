-- Preflight of the monitoring role (read only): what the exporter's objects need.
-- One row of JSON: the owner role, the exporter's role as it is (attributes, password
-- verifier, memberships, its own CONNECT grant; the task reading it runs with no_log),
-- the checksum comment of the installed ms5_monitoring objects, the migration ledger, TimescaleDB's version and edition (license), and for each table of
-- monitoring_freshness_tables (named argument tables: a JSON array of {table, time_column})
-- whether it is a hypertable and its first dimension is that column.
SELECT json_build_object(
  'owner_exists', EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %(owner)s),
  'exporter_exists', EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %(exporter)s),
  'exporter', (
    SELECT json_build_object(
      'login', a.rolcanlogin, 'superuser', a.rolsuper, 'createdb', a.rolcreatedb,
      'createrole', a.rolcreaterole, 'replication', a.rolreplication, 'bypassrls', a.rolbypassrls,
      'inherit', a.rolinherit, 'password', a.rolpassword,
      'member_of', (SELECT coalesce(json_agg(g.rolname::text ORDER BY g.rolname), '[]'::json)
                    FROM pg_catalog.pg_auth_members AS m JOIN pg_catalog.pg_roles AS g ON g.oid = m.roleid
                    WHERE m.member = a.oid),
      'connect', EXISTS (SELECT 1 FROM pg_catalog.pg_database AS d, aclexplode(d.datacl) AS x
                         WHERE d.datname = current_database() AND x.grantee = a.oid
                           AND x.privilege_type = 'CONNECT'))
    FROM pg_catalog.pg_authid AS a WHERE a.rolname = %(exporter)s),
  'ledger_exists', to_regclass('ms5_migrations.schema_migrations') IS NOT NULL,
  'schema_comment', coalesce(obj_description(to_regnamespace('ms5_monitoring'), 'pg_namespace'), ''),
  'timescaledb', (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'),
  'license', current_setting('timescaledb.license', true),
  'tables', (
    SELECT coalesce(json_agg(json_build_object(
      'table', t.item ->> 'table',
      'time_column', t.item ->> 'time_column',
      'hypertable', d.hypertable_name IS NOT NULL,
      'dimension', d.column_name,
      'column_type', d.column_type::text)), '[]'::json)
    FROM jsonb_array_elements(%(tables)s::jsonb) AS t(item)
    LEFT JOIN timescaledb_information.dimensions AS d
      ON d.hypertable_schema || '.' || d.hypertable_name = t.item ->> 'table'
     AND d.dimension_number = 1)
) AS preflight
