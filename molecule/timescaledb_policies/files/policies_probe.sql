-- A plain (not yet hyper) table with rows, for the timescaledb_policies scenario:
-- the role must turn it into a hypertable and keep every row (migrate_data).
DROP TABLE IF EXISTS factory_telemetry.policies_probe;
CREATE TABLE factory_telemetry.policies_probe (
    sensor_id   integer     NOT NULL,
    ts          timestamptz NOT NULL,
    reading     double precision
);
INSERT INTO factory_telemetry.policies_probe (sensor_id, ts, reading)
SELECT i % 3, now() - make_interval(hours => i), i
FROM generate_series(1, 240) AS i;
