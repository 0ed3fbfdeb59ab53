-- Run inside the freshly created target database before pg_restore
-- (TimescaleDB logical restore procedure).
CREATE EXTENSION IF NOT EXISTS timescaledb;
SELECT timescaledb_pre_restore();
