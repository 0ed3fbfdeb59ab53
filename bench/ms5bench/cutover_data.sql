-- make bench-cutover: MS5.0 history in the benchmark's legacy PostgreSQL 15 database,
-- scaled by psql variables: metrics (metric definitions), seconds (one sample per
-- metric per second, ending now), days (of events, OEE, energy, KPIs). Plain tables
-- as the backend fills them. generate_series, one transaction.
\set ON_ERROR_STOP 1
BEGIN;
SET search_path = factory_telemetry;
INSERT INTO production_lines (line_code, name, target_speed) SELECT 'L' || i, 'Line ' || i, 120 FROM generate_series(1, 4) AS i;
INSERT INTO users (username, role) SELECT 'user' || i, 'operator' FROM generate_series(1, 20) AS i;
INSERT INTO shifts (shift_code, name, start_time, end_time) VALUES
    ('A', 'Early', '06:00', '14:00'), ('B', 'Late', '14:00', '22:00'), ('C', 'Night', '22:00', '06:00');
INSERT INTO equipment_config (equipment_code, name, production_line_id, ideal_cycle_time)
SELECT 'EQ' || i, 'Machine ' || i, (SELECT id FROM production_lines WHERE line_code = 'L' || (1 + i % 4)), 0.5
FROM generate_series(1, 32) AS i;
INSERT INTO metric_def (equipment_code, metric_key, value_type)
SELECT 'EQ' || (1 + m % 32), 'metric_' || m, 'REAL' FROM generate_series(1, :metrics) AS m;
INSERT INTO metric_def (equipment_code, metric_key, value_type) VALUES ('BENCH', 'writer', 'INT');
INSERT INTO metric_hist (metric_def_id, ts, value_real)
SELECT d.id, date_trunc('second', now()) - make_interval(secs => s), (d.id * 7 + s % 101)::double precision / 3
FROM metric_def AS d, generate_series(1, :seconds) AS s
WHERE d.equipment_code <> 'BENCH';
INSERT INTO metric_latest (metric_def_id, ts, value_real)
SELECT id, now(), 1 FROM metric_def WHERE equipment_code <> 'BENCH';
INSERT INTO fault_event (equipment_code, bit_index, ts_on, ts_off)
SELECT 'EQ' || (1 + i % 32), i % 8, now() - make_interval(mins => i * 5), now() - make_interval(mins => i * 5) + interval '40 seconds'
FROM generate_series(1, :days * 288) AS i;
INSERT INTO downtime_events (line_id, equipment_code, start_time, end_time, reason_code, category)
SELECT (SELECT id FROM production_lines WHERE line_code = 'L' || (1 + i % 4)), 'EQ' || (1 + i % 32),
       now() - make_interval(mins => i * 30), now() - make_interval(mins => i * 30) + interval '5 minutes', 'R' || i % 9, 'unplanned'
FROM generate_series(1, :days * 48) AS i;
INSERT INTO oee_calculations (line_id, equipment_code, calculation_time, planned_production_time, run_time,
                              ideal_cycle_time, total_parts, good_parts)
SELECT e.production_line_id, e.equipment_code, date_trunc('minute', now()) - make_interval(mins => m), 60, 55, 0.5, 100, 97
FROM equipment_config AS e, generate_series(1, :days * 1440) AS m;
INSERT INTO energy_consumption (equipment_code, line_id, consumption_time, energy_kwh)
SELECT e.equipment_code, e.production_line_id, date_trunc('minute', now()) - make_interval(mins => m), 0.2
FROM equipment_config AS e, generate_series(1, :days * 1440) AS m;
INSERT INTO production_kpis (line_id, kpi_date, shift_id, total_production, good_production)
SELECT l.id, current_date - d, NULL, 1000, 970 FROM production_lines AS l, generate_series(1, :days) AS d;
COMMIT;
ANALYZE;
