-- Dashboard sample data for the success-criteria checks (roles/verify): 1-second
-- samples of every sample metric, one OEE row per minute, latest values, a fault
-- and a downtime event, over [%(since)s, %(until)s). Rolled back afterwards.
INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
SELECT m.id, t, 50 + 10 * sin(extract(epoch FROM t) / 60.0) + m.id %% 7
FROM ms5_verify_metric AS m,
     generate_series(%(since)s::timestamptz, %(until)s::timestamptz - interval '1 second',
                     make_interval(secs => %(step_seconds)s)) AS t
ON CONFLICT DO NOTHING;
