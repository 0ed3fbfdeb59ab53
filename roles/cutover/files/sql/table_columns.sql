-- ms5-cutover: every user table with its columns, without counting rows (read-only;
-- cheap enough for the write pause). One JSON array of {"table", "columns"}; the
-- same tables as tables.sql.
SELECT coalesce(json_agg(json_build_object(
           'table', n.nspname || '.' || c.relname,
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
