-- Sample telemetry for the rollups scenario: two lines, one utility without a line,
-- three metrics of one machine (two REAL, one INT: value_real is NULL there) every
-- 5 seconds for the last three days, energy and OEE per minute for two days.
-- Times are relative to now(), so the rollups' refresh windows cover them.
INSERT INTO factory_telemetry.production_lines (line_code, name, target_speed)
VALUES ('RLP-L1', 'rollups line 1', 100), ('RLP-L2', 'rollups line 2', 120);

INSERT INTO factory_telemetry.equipment_config (equipment_code, name, equipment_type, production_line_id, ideal_cycle_time)
SELECT 'RLP-EQ' || n, 'rollups machine ' || n, 'machine', l.id, 1.0
FROM generate_series(1, 2) AS n
JOIN factory_telemetry.production_lines AS l ON l.line_code = 'RLP-L' || n;

INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type, unit)
VALUES ('RLP-EQ1', 'speed', 'REAL', 'ppm'), ('RLP-EQ1', 'temperature', 'REAL', 'C'),
       ('RLP-EQ1', 'good_count', 'INT', 'parts');

INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real, value_int)
SELECT d.id, t,
       CASE WHEN d.value_type = 'REAL' THEN round((50 + 10 * sin(extract(epoch FROM t) / 900.0) + d.id)::numeric, 3) END,
       CASE WHEN d.value_type = 'INT' THEN (extract(epoch FROM t)::bigint / 5) % 100000 END
FROM factory_telemetry.metric_def AS d,
     generate_series(date_trunc('minute', now()) - interval '3 days', now() - interval '1 minute', interval '5 seconds') AS t
WHERE d.equipment_code = 'RLP-EQ1';

INSERT INTO factory_telemetry.energy_consumption (equipment_code, line_id, consumption_time, power_kw, energy_kwh)
SELECT e.equipment_code, e.production_line_id, t,
       round((20 + 5 * sin(extract(epoch FROM t) / 3600.0))::numeric, 3),
       round((0.3 + 0.1 * cos(extract(epoch FROM t) / 3600.0))::numeric, 4)
FROM factory_telemetry.equipment_config AS e,
     generate_series(date_trunc('minute', now()) - interval '2 days', now() - interval '1 minute', interval '1 minute') AS t
WHERE e.equipment_code LIKE 'RLP-EQ%'
UNION ALL
SELECT 'RLP-COMPRESSOR', NULL, t, NULL, 0.5
FROM generate_series(date_trunc('minute', now()) - interval '2 days', now() - interval '1 minute', interval '1 minute') AS t;

INSERT INTO factory_telemetry.oee_calculations
    (line_id, equipment_code, calculation_time, interval_seconds, planned_production_time, run_time,
     ideal_cycle_time, total_parts, good_parts, availability, performance, quality, oee)
SELECT e.production_line_id, e.equipment_code, t, 60, 60, r.run, 1.0, r.run - 2, r.run - 3,
       round(r.run / 60.0, 4), round((r.run - 2) / r.run::numeric, 4), round((r.run - 3) / (r.run - 2)::numeric, 4),
       round((r.run / 60.0) * ((r.run - 2) / r.run::numeric) * ((r.run - 3) / (r.run - 2)::numeric), 4)
FROM factory_telemetry.equipment_config AS e,
     generate_series(date_trunc('minute', now()) - interval '2 days', now() - interval '1 minute', interval '1 minute') AS t,
     LATERAL (SELECT 40 + (extract(epoch FROM t)::bigint / 60) % 20 AS run) AS r
WHERE e.equipment_code LIKE 'RLP-EQ%';

ANALYZE factory_telemetry.metric_hist;
ANALYZE factory_telemetry.energy_consumption;
ANALYZE factory_telemetry.oee_calculations;
