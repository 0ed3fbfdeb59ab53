-- Test rows for the backup and rollback scenarios: every hypertable of the
-- MS5.0 schema and several plain tables, spread over enough time to make many
-- chunks. Deterministic values (no random()), run once by prepare as the owner.
INSERT INTO factory_telemetry.users (username, email, role)
SELECT 'user' || i, 'user' || i || '@example.invalid', 'operator'
FROM generate_series(1, 5) AS i;

INSERT INTO factory_telemetry.production_lines (line_code, name, target_speed)
SELECT 'L' || i, 'Line ' || i, 100 + i
FROM generate_series(1, 3) AS i;

INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type, unit)
SELECT 'EQ' || (i % 3 + 1), 'metric_' || i, 'REAL', 'unit'
FROM generate_series(1, 10) AS i;

INSERT INTO factory_telemetry.fault_catalog (equipment_code, bit_index, fault_code, description)
SELECT 'EQ' || (i % 3 + 1), i, 'F' || i, 'fault ' || i
FROM generate_series(1, 4) AS i;

INSERT INTO factory_telemetry.context (equipment_code, current_operator, current_shift)
SELECT 'EQ' || i, 'user' || i, 'A'
FROM generate_series(1, 3) AS i;

-- 10 metrics x 1440 samples one minute apart over 24 h (1 h chunks).
INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
SELECT d.id, timestamptz '2026-11-01 00:00:00+00' + s * interval '1 minute', d.id * 1000 + s
FROM factory_telemetry.metric_def AS d, generate_series(0, 1439) AS s;

INSERT INTO factory_telemetry.fault_event (equipment_code, bit_index, ts_on, ts_off, duration_s)
SELECT 'EQ' || (i % 3 + 1), i % 4 + 1,
       timestamptz '2026-09-01 00:00:00+00' + i * interval '7 hours',
       timestamptz '2026-09-01 00:00:00+00' + i * interval '7 hours' + interval '90 seconds', 90
FROM generate_series(1, 250) AS i;

INSERT INTO factory_telemetry.downtime_events
    (line_id, equipment_code, start_time, end_time, duration_seconds, reason_code, category, reported_by)
SELECT l.id, 'EQ1', timestamptz '2026-10-01 00:00:00+00' + i * interval '5 hours',
       timestamptz '2026-10-01 00:00:00+00' + i * interval '5 hours' + interval '10 minutes', 600,
       'R' || (i % 5), 'unplanned', (SELECT id FROM factory_telemetry.users WHERE username = 'user1')
FROM factory_telemetry.production_lines AS l, generate_series(1, 60) AS i;

INSERT INTO factory_telemetry.oee_calculations
    (line_id, equipment_code, calculation_time, planned_production_time, run_time,
     ideal_cycle_time, total_parts, good_parts, availability, performance, quality, oee)
SELECT l.id, 'EQ1', timestamptz '2026-11-10 00:00:00+00' + i * interval '10 minutes', 60, 50,
       0.5, 100, 90 + i % 10, 0.8333, 1.0, 0.9, 0.75
FROM factory_telemetry.production_lines AS l, generate_series(1, 500) AS i;

INSERT INTO factory_telemetry.production_kpis
    (line_id, kpi_date, availability, performance, quality, oee, total_production, good_production)
SELECT l.id, date '2026-06-01' + i, 0.9, 0.95, 0.98, 0.84, 1000 + i, 950 + i
FROM factory_telemetry.production_lines AS l, generate_series(0, 149) AS i;

INSERT INTO factory_telemetry.energy_consumption (equipment_code, line_id, consumption_time, power_kw, energy_kwh)
SELECT 'EQ' || (i % 3 + 1), NULL, timestamptz '2026-11-15 00:00:00+00' + i * interval '1 minute',
       12.5, 0.2083 + (i % 7) / 1000.0
FROM generate_series(1, 4000) AS i;

-- Rows older than every retention window (the longest, production_kpis, keeps 1095
-- days): a backup must hold them, its test restore must compare equal and a rollback
-- must swap them in, before any retention job or timer may drop them (issue 11, 9).
INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_real)
SELECT d.id, timestamptz '2020-01-15 00:00:00+00' + s * interval '1 minute', -s
FROM factory_telemetry.metric_def AS d, generate_series(0, 9) AS s;

INSERT INTO factory_telemetry.fault_event (equipment_code, bit_index, ts_on, ts_off, duration_s)
SELECT 'EQ1', 1, timestamptz '2020-01-15 00:00:00+00' + i * interval '1 hour',
       timestamptz '2020-01-15 00:00:00+00' + i * interval '1 hour' + interval '30 seconds', 30
FROM generate_series(1, 5) AS i;

INSERT INTO factory_telemetry.downtime_events
    (line_id, equipment_code, start_time, end_time, duration_seconds, reason_code, category, reported_by)
SELECT l.id, 'EQ1', timestamptz '2020-01-15 06:00:00+00', timestamptz '2020-01-15 06:10:00+00', 600,
       'R0', 'unplanned', NULL
FROM factory_telemetry.production_lines AS l;

INSERT INTO factory_telemetry.oee_calculations
    (line_id, equipment_code, calculation_time, planned_production_time, run_time,
     ideal_cycle_time, total_parts, good_parts, availability, performance, quality, oee)
SELECT l.id, 'EQ1', timestamptz '2020-01-15 08:00:00+00', 60, 50, 0.5, 100, 80, 0.8333, 1.0, 0.8, 0.67
FROM factory_telemetry.production_lines AS l;

INSERT INTO factory_telemetry.production_kpis
    (line_id, kpi_date, availability, performance, quality, oee, total_production, good_production)
SELECT l.id, date '2020-01-15', 0.9, 0.95, 0.98, 0.84, 900, 850
FROM factory_telemetry.production_lines AS l;

INSERT INTO factory_telemetry.energy_consumption (equipment_code, line_id, consumption_time, power_kw, energy_kwh)
SELECT 'EQ1', NULL, timestamptz '2020-01-15 00:00:00+00' + i * interval '1 minute', 10, 0.1667
FROM generate_series(1, 10) AS i;
