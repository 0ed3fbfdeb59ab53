-- ms5-cutover: the hypertables of the current database with their time dimension
-- and chunk interval (only run where the timescaledb extension exists). One JSON
-- array of {"k": "hypertable", "n": name, "d": definition}, merged into catalog.sql's.
SELECT coalesce(json_agg(json_build_object(
           'k', 'hypertable',
           'n', d.hypertable_schema || '.' || d.hypertable_name,
           'd', d.column_name || ' ' || coalesce(d.time_interval::text, d.integer_interval::text, ''))
       ORDER BY d.hypertable_schema, d.hypertable_name, d.dimension_number), '[]')
FROM timescaledb_information.dimensions AS d
