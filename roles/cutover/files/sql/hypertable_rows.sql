-- ms5-cutover: for each hypertable (psql variable tables = JSON list of
-- "schema.table"), whether it is one, the rows kept in its root table instead of
-- its chunks, and its number of chunks (read-only). One JSON object.
SELECT json_object_agg(t.tbl, json_build_object(
           'is_hypertable', h.hypertable_name IS NOT NULL,
           'root_rows', (xpath('/row/n/text()', query_to_xml(
                             format('SELECT count(*) AS n FROM ONLY %s', to_regclass(t.tbl)), false, true, '')))[1]::text::bigint,
           'chunks', (SELECT count(*) FROM timescaledb_information.chunks AS c
                      WHERE c.hypertable_schema = split_part(t.tbl, '.', 1)
                        AND c.hypertable_name = split_part(t.tbl, '.', 2))))
FROM json_array_elements_text(:'tables'::json) AS t (tbl)
LEFT JOIN timescaledb_information.hypertables AS h
       ON h.hypertable_schema = split_part(t.tbl, '.', 1) AND h.hypertable_name = split_part(t.tbl, '.', 2);
