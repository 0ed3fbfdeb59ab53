-- ms5-cutover: the cutoff of each time-series table for one copy round: the
-- transaction's start (the snapshot's time) minus the tail margin, in the time
-- column's own type (read-only). psql variables: tables (JSON list of {"table",
-- "time_column"}), margin (an interval). One JSON object {table: cutoff text}.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SELECT json_object_agg(t."table", CASE format_type(a.atttypid, a.atttypmod)
           WHEN 'date' THEN (now() - :'margin'::interval)::date::text
           WHEN 'timestamp without time zone' THEN (now() - :'margin'::interval)::timestamp::text
           WHEN 'timestamp with time zone' THEN (now() - :'margin'::interval)::text
       END)
FROM json_to_recordset(:'tables'::json) AS t ("table" text, time_column text)
LEFT JOIN pg_attribute AS a ON a.attrelid = to_regclass(t."table") AND a.attname = t.time_column AND NOT a.attisdropped;
