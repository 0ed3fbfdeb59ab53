-- ms5-cutover: a write through the backend's own path (its user, host name, network
-- and port): one metric_hist row for the first metric definition, inserted and
-- rolled back, so nothing stays behind. Prints where the row landed (a chunk on
-- TimescaleDB) and who wrote it.
BEGIN;
WITH w AS (
    INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_int)
    SELECT d.id, clock_timestamp(), 0 FROM factory_telemetry.metric_def AS d ORDER BY d.id LIMIT 1
    RETURNING tableoid::regclass::text AS rel
)
SELECT json_build_object(
    'user', current_user,
    'server_version', current_setting('server_version'),
    'timescaledb', (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
    'landed_in', (SELECT string_agg(w.rel, ',') FROM w)
);
ROLLBACK;
