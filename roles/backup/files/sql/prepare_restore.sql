-- Run inside the freshly created target database before pg_restore (TimescaleDB's
-- logical restore procedure; only for dumps of a database with TimescaleDB).
-- :ts_version is the manifest's TimescaleDB version: the extension must be created
-- at exactly the version the dump was made with.
SELECT format('CREATE EXTENSION IF NOT EXISTS timescaledb VERSION %L', :'ts_version')
\gexec
SELECT timescaledb_pre_restore();
