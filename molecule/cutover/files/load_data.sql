-- molecule/cutover: months of MS5.0 production data in the legacy PostgreSQL 15
-- database, as the backend would have written it: 1,000,000 metric_hist samples
-- (40 metrics, one per second over the last ~7 hours), 30 days of fault and
-- downtime events, 3 days of per-minute OEE and energy rows, 30 days of KPIs, and
-- the plain tables they refer to. Loaded with generate_series in one transaction
-- (seconds, not row by row). The backend stand-in's own metric (STANDIN/heartbeat)
-- is created here too. Runs as ms5_user_production, like the backend.
\set ON_ERROR_STOP 1
BEGIN;
SET search_path = factory_telemetry;

INSERT INTO production_lines (line_code, name, target_speed)
SELECT 'L' || i, 'Line ' || i, 120 FROM generate_series(1, 2) AS i;

INSERT INTO users (username, email, role, employee_id)
SELECT 'user' || i, 'user' || i || '@plant.example', (ARRAY['admin', 'operator', 'engineer', 'maintenance', 'quality'])[i],
       'E' || i
FROM generate_series(1, 5) AS i;

INSERT INTO shifts (shift_code, name, start_time, end_time) VALUES
    ('A', 'Early', '06:00', '14:00'), ('B', 'Late', '14:00', '22:00'), ('C', 'Night', '22:00', '06:00');

INSERT INTO product_types (product_code, name, ideal_cycle_time) VALUES
    ('P-100', 'Bottle 0.5 l', 0.5), ('P-200', 'Bottle 1 l', 0.8);

INSERT INTO equipment_config (equipment_code, name, equipment_type, production_line_id, plc_type, ideal_cycle_time)
SELECT 'EQ' || i, 'Machine ' || i, 'machine',
       (SELECT id FROM production_lines WHERE line_code = 'L' || (1 + (i - 1) / 4)), 'LOGIX', 0.5
FROM generate_series(1, 8) AS i;

INSERT INTO metric_def (equipment_code, metric_key, value_type, unit)
SELECT 'EQ' || e, 'metric_' || m, 'REAL', 'unit'
FROM generate_series(1, 8) AS e, generate_series(1, 5) AS m;
INSERT INTO metric_def (equipment_code, metric_key, value_type, description)
VALUES ('STANDIN', 'heartbeat', 'INT', 'written every second by the backend stand-in of molecule/cutover');

INSERT INTO metric_binding (metric_def_id, plc_kind, address)
SELECT id, 'LOGIX', 'Program:Main.' || metric_key FROM metric_def WHERE equipment_code <> 'STANDIN';

-- 1,000,000 samples: 40 metrics x 25,000 seconds ending now.
INSERT INTO metric_hist (metric_def_id, ts, value_real)
SELECT d.id, date_trunc('second', now()) - make_interval(secs => s), (d.id * 10 + s % 97)::double precision / 3
FROM metric_def AS d, generate_series(1, 25000) AS s
WHERE d.equipment_code <> 'STANDIN';

INSERT INTO metric_latest (metric_def_id, ts, value_real)
SELECT metric_def_id, max(ts), 1.0 FROM metric_hist GROUP BY metric_def_id;

INSERT INTO fault_catalog (equipment_code, bit_index, fault_code, description, severity)
SELECT 'EQ' || e, b, 'F' || e || '_' || b, 'Fault ' || b || ' of EQ' || e, 'fault'
FROM generate_series(1, 8) AS e, generate_series(0, 3) AS b;

INSERT INTO fault_event (equipment_code, bit_index, ts_on, ts_off, duration_s)
SELECT 'EQ' || (1 + i % 8), i % 4, now() - make_interval(mins => i * 8),
       now() - make_interval(mins => i * 8) + make_interval(secs => 30 + i % 300), 30 + i % 300
FROM generate_series(1, 5000) AS i;

INSERT INTO downtime_events (line_id, equipment_code, start_time, end_time, duration_seconds, reason_code, category)
SELECT l.id, 'EQ' || (1 + i % 8), now() - make_interval(mins => i * 43),
       now() - make_interval(mins => i * 43) + make_interval(secs => 60 + i % 900), 60 + i % 900,
       'R' || (i % 7), (ARRAY['planned', 'unplanned', 'maintenance', 'changeover'])[1 + i % 4]
FROM generate_series(1, 1000) AS i
JOIN production_lines AS l ON l.line_code = 'L' || (1 + i % 2);

INSERT INTO oee_calculations (line_id, equipment_code, calculation_time, planned_production_time, run_time,
                              ideal_cycle_time, total_parts, good_parts, availability, performance, quality, oee)
SELECT e.production_line_id, e.equipment_code, date_trunc('minute', now()) - make_interval(mins => m),
       60, 50 + m % 10, 0.5, 100, 95 + m % 5, 0.9, 0.95, 0.97, 0.83
FROM equipment_config AS e, generate_series(1, 4320) AS m;

INSERT INTO energy_consumption (equipment_code, line_id, consumption_time, power_kw, energy_kwh)
SELECT e.equipment_code, e.production_line_id, date_trunc('minute', now()) - make_interval(mins => m),
       10 + m % 5, (10 + m % 5) / 60.0
FROM equipment_config AS e, generate_series(1, 4320) AS m;

INSERT INTO production_kpis (line_id, kpi_date, shift_id, availability, performance, quality, oee,
                             total_production, good_production, scrap_production)
SELECT l.id, current_date - d, s.id, 0.9, 0.95, 0.97, 0.83, 1000, 970, 30
FROM production_lines AS l, generate_series(1, 30) AS d,
     (SELECT id FROM shifts UNION ALL SELECT NULL) AS s;

INSERT INTO production_schedules (line_id, product_type_id, scheduled_start, scheduled_end, target_quantity, status)
SELECT l.id, p.id, now() - make_interval(days => i), now() - make_interval(days => i) + interval '8 hours', 1000,
       CASE WHEN i = 0 THEN 'in_progress' ELSE 'completed' END
FROM generate_series(0, 9) AS i
JOIN production_lines AS l ON l.line_code = 'L' || (1 + i % 2)
JOIN product_types AS p ON p.product_code = 'P-100';

INSERT INTO job_assignments (schedule_id, user_id, status, produced_quantity)
SELECT s.id, u.id, 'completed', 900 FROM production_schedules AS s
JOIN users AS u ON u.username = 'user2';

INSERT INTO quality_checks (line_id, product_type_id, check_time, check_type, check_result,
                            quantity_checked, quantity_passed, quantity_failed)
SELECT l.id, p.id, now() - make_interval(hours => i), 'in_process', 'pass', 50, 49, 1
FROM generate_series(1, 200) AS i
JOIN production_lines AS l ON l.line_code = 'L' || (1 + i % 2)
JOIN product_types AS p ON p.product_code = 'P-200';

INSERT INTO andon_events (line_id, equipment_code, event_type, priority, description, status, created_at)
SELECT l.id, 'EQ' || (1 + i % 8), 'stop', 'high', 'Andon ' || i, 'resolved', now() - make_interval(hours => i)
FROM generate_series(1, 50) AS i
JOIN production_lines AS l ON l.line_code = 'L' || (1 + i % 2);

INSERT INTO context (equipment_code, current_operator, current_shift, production_line_id, production_state)
SELECT equipment_code, 'user2', 'A', production_line_id, 'running' FROM equipment_config;

COMMIT;
ANALYZE;
