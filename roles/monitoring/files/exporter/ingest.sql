-- ms5_ingest_*: newest time value of each monitored hypertable (ingest freshness).
-- ms5_monitoring.ingest_freshness() runs as the owner role (SECURITY DEFINER) and
-- returns only max(time) per table, found by an index scan from the newest chunk;
-- the exporter's role itself cannot read any row. NaN while a table is empty.
SELECT f.hypertable,
       extract(epoch FROM f.newest) AS newest_timestamp_seconds,
       extract(epoch FROM now() - f.newest) AS lag_seconds
FROM ms5_monitoring.ingest_freshness() AS f
