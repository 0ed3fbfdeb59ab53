-- ms5-cutover: for each time-series table (psql variable tables = JSON list of
-- {"table": "schema.name", "time_column": "col"}), whether it exists, is a plain
-- table, has the time column (and its type), and which unique constraints and
-- unique indexes do not include the time column (TimescaleDB refuses those on a
-- hypertable). Read-only. One JSON array.
SELECT coalesce(json_agg(json_build_object(
           'table', t.tbl,
           'time_column', t.col,
           'exists', c.oid IS NOT NULL,
           'relkind', c.relkind,
           'column_type', (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a
                           WHERE a.attrelid = c.oid AND a.attname = t.col AND NOT a.attisdropped),
           'column_not_null', (SELECT a.attnotnull FROM pg_attribute AS a
                               WHERE a.attrelid = c.oid AND a.attname = t.col AND NOT a.attisdropped),
           'unique_without_time', (
               SELECT coalesce(json_agg(json_build_object(
                          'name', i.relname,
                          'constraint', con.conname,
                          'definition', coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(i.oid)))
                      ORDER BY i.relname), '[]')
               FROM pg_index AS x
               JOIN pg_class AS i ON i.oid = x.indexrelid
               LEFT JOIN pg_constraint AS con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
               WHERE x.indrelid = c.oid
                 AND x.indisunique
                 AND NOT EXISTS (
                   SELECT 1 FROM pg_attribute AS a
                   WHERE a.attrelid = c.oid AND a.attname = t.col AND a.attnum = ANY (x.indkey::int2[])
                 )
           )
       ) ORDER BY t.ord), '[]')
FROM ROWS FROM (json_to_recordset(:'tables'::json) AS ("table" text, time_column text))
     WITH ORDINALITY AS t (tbl, col, ord)
LEFT JOIN pg_class AS c ON c.oid = to_regclass(t.tbl)
