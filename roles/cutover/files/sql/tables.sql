-- ms5-cutover: every user table with its exact row count, size and column list
-- (read-only). One JSON array. Chunks and TimescaleDB's internal schemas are
-- skipped (a hypertable is counted through its root), as are extension tables.
SELECT coalesce(json_agg(json_build_object(
           'table', n.nspname || '.' || c.relname,
           'schema', n.nspname,
           'name', c.relname,
           'rows', (xpath('/row/n/text()',
                          query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                       false, true, '')))[1]::text::bigint,
           'bytes', pg_total_relation_size(c.oid),
           'columns', (SELECT json_agg(a.attname ORDER BY a.attnum)
                       FROM pg_attribute AS a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                         AND a.attgenerated = '')
       ) ORDER BY n.nspname, c.relname), '[]')
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  AND n.nspname NOT LIKE '\_timescaledb\_%'
  AND n.nspname NOT LIKE 'timescaledb\_%'
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend AS d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
