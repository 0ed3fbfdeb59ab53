-- Typical dashboard queries timed by playbooks/verify.yml (roles/verify), besides
-- every view of the schema. Each block starts with "-- name: <name>". Named
-- arguments: %(since)s / %(until)s = the window of sample data.

-- name: one metric, last hour in 1-minute buckets (trend chart)
SELECT time_bucket(interval '1 minute', h.ts) AS bucket,
       avg(h.value_real), min(h.value_real), max(h.value_real)
FROM factory_telemetry.metric_hist AS h
WHERE h.metric_def_id = (SELECT min(id) FROM ms5_verify_metric)
  AND h.ts >= %(until)s::timestamptz - interval '1 hour'
GROUP BY bucket
ORDER BY bucket;

-- name: all metrics of one equipment, last 15 minutes (equipment screen)
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

-- name: OEE of one line over the window, hourly (OEE chart)
SELECT time_bucket(interval '1 hour', o.calculation_time) AS bucket,
       avg(o.availability), avg(o.performance), avg(o.quality), avg(o.oee)
FROM factory_telemetry.oee_calculations AS o
JOIN factory_telemetry.production_lines AS l ON l.id = o.line_id
WHERE l.line_code = 'MS5-VERIFY-LINE'
  AND o.calculation_time >= %(since)s AND o.calculation_time < %(until)s
GROUP BY bucket
ORDER BY bucket;

-- name: downtime Pareto of one line, last 24 hours
SELECT d.reason_code, count(*), sum(d.duration_seconds)
FROM factory_telemetry.downtime_events AS d
JOIN factory_telemetry.production_lines AS l ON l.id = d.line_id
WHERE l.line_code = 'MS5-VERIFY-LINE'
  AND d.start_time >= %(until)s::timestamptz - interval '24 hours'
GROUP BY d.reason_code
ORDER BY 3 DESC;
