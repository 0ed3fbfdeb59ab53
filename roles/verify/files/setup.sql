-- Sample plant for the success-criteria checks (roles/verify). Runs inside the
-- check's transaction, which is always rolled back: nothing here is kept.
-- Named argument: %(metrics)s = number of REAL metric definitions to create.
INSERT INTO factory_telemetry.production_lines (line_code, name, target_speed)
VALUES ('MS5-VERIFY-LINE', 'ms5 verify sample line', 100);

INSERT INTO factory_telemetry.equipment_config (equipment_code, name, equipment_type, production_line_id, ideal_cycle_time)
SELECT 'MS5-VERIFY-EQ', 'ms5 verify sample equipment', 'machine', id, 1.0
FROM factory_telemetry.production_lines WHERE line_code = 'MS5-VERIFY-LINE';

INSERT INTO factory_telemetry.metric_def (equipment_code, metric_key, value_type, unit)
SELECT 'MS5-VERIFY-EQ', 'sample_' || n, 'REAL', 'unit'
FROM generate_series(1, %(metrics)s) AS n;

CREATE TEMPORARY TABLE ms5_verify_metric ON COMMIT DROP AS
SELECT id FROM factory_telemetry.metric_def WHERE equipment_code = 'MS5-VERIFY-EQ';
