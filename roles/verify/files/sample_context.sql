-- Context rows the dashboard views join to (roles/verify): latest values, OEE per
-- minute, one fault and one downtime event in [%(since)s, %(until)s). Rolled back.
INSERT INTO factory_telemetry.metric_latest (metric_def_id, ts, value_real)
SELECT id, %(until)s::timestamptz, 50 FROM ms5_verify_metric
ON CONFLICT (metric_def_id) DO NOTHING;

INSERT INTO factory_telemetry.oee_calculations
    (line_id, equipment_code, calculation_time, interval_seconds, planned_production_time, run_time,
     ideal_cycle_time, total_parts, good_parts, availability, performance, quality, oee)
SELECT l.id, 'MS5-VERIFY-EQ', t, 60, 60, 54, 1.0, 50, 49, 0.9, 0.9259, 0.98, 0.8167
FROM factory_telemetry.production_lines AS l,
     generate_series(%(since)s::timestamptz, %(until)s::timestamptz - interval '1 minute', interval '1 minute') AS t
WHERE l.line_code = 'MS5-VERIFY-LINE';

INSERT INTO factory_telemetry.fault_event (equipment_code, bit_index, ts_on, ts_off, duration_s)
VALUES ('MS5-VERIFY-EQ', 3, %(until)s::timestamptz - interval '30 minutes', %(until)s::timestamptz - interval '25 minutes', 300);

INSERT INTO factory_telemetry.downtime_events (line_id, equipment_code, start_time, end_time, duration_seconds, reason_code, category)
SELECT id, 'MS5-VERIFY-EQ', %(until)s::timestamptz - interval '30 minutes', %(until)s::timestamptz - interval '25 minutes',
       300, 'JAM', 'unplanned'
FROM factory_telemetry.production_lines WHERE line_code = 'MS5-VERIFY-LINE';
