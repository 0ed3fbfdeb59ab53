-- Typical dashboard queries timed by playbooks/verify.yml (roles/verify), besides
-- every view of the schema. Each block starts with "-- name: <name>". Named
-- arguments: %(since)s / %(until)s = the window of sample data.
--
-- Trends over longer ranges read the rollups through the trend functions of the
-- rollups role (ms5_rollups.metric_trend, oee_trend, energy_trend): each picks the
-- rollup that fits the range (1-minute buckets up to a day, hourly beyond) and adds
-- what is newer than the rollup's watermark from the raw table, so the result equals
-- the raw computation. Short windows of raw samples (the last minutes) stay on
-- metric_hist. verify.yml's sample rows live in a transaction that is rolled back, so
-- the rollups' stored part holds none of them: these queries time the real plans on
-- the deployed rollups (tests/unit and the rollups scenario check the results).
-- "-- requires: <function>" marks a query that needs such a function: where the
-- rollups role has not deployed it (rollups_definitions without that rollup), the
-- query is reported as skipped instead of failing.

-- name: one metric, last hour in 1-minute buckets (trend chart, ms5_rollups.metric_trend)
-- requires: ms5_rollups.metric_trend
SELECT t.bucket, t.avg_value, t.min_value, t.max_value, t.samples, t.last_value
FROM ms5_rollups.metric_trend((SELECT min(id) FROM ms5_verify_metric),
                              %(until)s::timestamptz - interval '1 hour', %(until)s::timestamptz,
                              interval '1 minute') AS t;

-- name: one metric, last 24 hours in 1-minute buckets (24-hour trend, rollup metric_hist_1m)
-- requires: ms5_rollups.metric_trend
SELECT t.bucket, t.avg_value, t.min_value, t.max_value, t.samples, t.last_value
FROM ms5_rollups.metric_trend((SELECT min(id) FROM ms5_verify_metric),
                              %(until)s::timestamptz - interval '24 hours', %(until)s::timestamptz) AS t;

-- name: one metric, last 30 days in hourly buckets (30-day trend, rollup metric_hist_1h)
-- requires: ms5_rollups.metric_trend
SELECT t.bucket, t.avg_value, t.min_value, t.max_value, t.samples, t.last_value
FROM ms5_rollups.metric_trend((SELECT min(id) FROM ms5_verify_metric),
                              %(until)s::timestamptz - interval '30 days', %(until)s::timestamptz) AS t;

-- name: all metrics of one equipment, last 24 hours in 15-minute buckets (equipment screen trends)
-- requires: ms5_rollups.metric_trend
SELECT t.metric_def_id, t.bucket, t.avg_value, t.min_value, t.max_value
FROM ms5_rollups.metric_trend(ARRAY(SELECT d.id FROM factory_telemetry.metric_def AS d
                                    WHERE d.equipment_code = 'MS5-VERIFY-EQ'),
                              %(until)s::timestamptz - interval '24 hours', %(until)s::timestamptz,
                              interval '15 minutes') AS t;

-- name: all metrics of one equipment, last 15 minutes (equipment screen, raw samples)
SELECT d.metric_key, h.ts, h.value_real
FROM factory_telemetry.metric_hist AS h
JOIN factory_telemetry.metric_def AS d ON d.id = h.metric_def_id
WHERE d.equipment_code = 'MS5-VERIFY-EQ'
  AND h.ts >= %(until)s::timestamptz - interval '15 minutes'
ORDER BY h.ts DESC
LIMIT 5000;

-- name: newest sample per metric of one equipment (live tiles from history)
SELECT DISTINCT ON (h.metric_def_id) h.metric_def_id, h.ts, h.value_real
FROM factory_telemetry.metric_hist AS h
WHERE h.metric_def_id IN (SELECT id FROM ms5_verify_metric)
  AND h.ts >= %(until)s::timestamptz - interval '5 minutes'
ORDER BY h.metric_def_id, h.ts DESC;

-- name: OEE of one line over the window, hourly (OEE chart, rollup oee_line_1h)
-- requires: ms5_rollups.oee_trend
SELECT t.bucket, t.avg_availability, t.avg_performance, t.avg_quality, t.avg_oee
FROM factory_telemetry.production_lines AS l
CROSS JOIN LATERAL ms5_rollups.oee_trend(l.id, %(since)s, %(until)s, interval '1 hour') AS t
WHERE l.line_code = 'MS5-VERIFY-LINE';

-- name: energy of one line, last 30 days, daily (energy chart, rollup energy_line_1h)
-- requires: ms5_rollups.energy_trend
SELECT t.bucket, t.energy_kwh, t.max_power_kw
FROM factory_telemetry.production_lines AS l
CROSS JOIN LATERAL ms5_rollups.energy_trend(l.id, %(until)s::timestamptz - interval '30 days',
                                            %(until)s::timestamptz, interval '1 day') AS t
WHERE l.line_code = 'MS5-VERIFY-LINE';

-- name: downtime Pareto of one line, last 24 hours
SELECT d.reason_code, count(*), sum(d.duration_seconds)
FROM factory_telemetry.downtime_events AS d
JOIN factory_telemetry.production_lines AS l ON l.id = d.line_id
WHERE l.line_code = 'MS5-VERIFY-LINE'
  AND d.start_time >= %(until)s::timestamptz - interval '24 hours'
GROUP BY d.reason_code
ORDER BY 3 DESC;
