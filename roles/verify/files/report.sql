-- Deployment report (roles/verify, tasks/report.yml): one row of JSON describing
-- what is deployed. Read-only.
SELECT json_build_object(
    'postgres_version', current_setting('server_version'),
    'timescaledb_version', (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
    'timescaledb_license', current_setting('timescaledb.license', true),
    'migrations', (
        SELECT json_build_object('count', count(*), 'newest', max(file_name), 'last_applied_at', max(applied_at))
        FROM ms5_migrations.schema_migrations),
    'tables', (SELECT count(*) FROM pg_tables WHERE schemaname = 'factory_telemetry'),
    'views', (SELECT count(*) FROM pg_views WHERE schemaname = 'factory_telemetry'),
    'indexes', (SELECT count(*) FROM pg_indexes WHERE schemaname = 'factory_telemetry'),
    'hypertables', (
        SELECT coalesce(json_agg(json_build_object(
            'table', h.hypertable_name,
            'time_column', d.column_name,
            'chunk_interval', d.time_interval::text,
            'chunks', h.num_chunks,
            'compression', h.compression_enabled,
            'jobs', (SELECT coalesce(string_agg(j.proc_name || ' ' || coalesce(j.config::text, ''), '; ' ORDER BY j.job_id), '')
                     FROM timescaledb_information.jobs AS j
                     WHERE j.hypertable_schema = h.hypertable_schema AND j.hypertable_name = h.hypertable_name)
        ) ORDER BY h.hypertable_name), '[]'::json)
        FROM timescaledb_information.hypertables AS h
        JOIN timescaledb_information.dimensions AS d
          ON d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name
         AND d.dimension_number = 1
        WHERE h.hypertable_schema = 'factory_telemetry')
) AS report;
