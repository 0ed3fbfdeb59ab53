-- Test data written by the owner role in prepare; verify checks it survives the
-- container being recreated (converge) and `docker compose down` / `up`.
CREATE SCHEMA IF NOT EXISTS molecule_probe;
CREATE TABLE IF NOT EXISTS molecule_probe.readings (
  ts timestamptz NOT NULL,
  note text NOT NULL
);
SELECT create_hypertable('molecule_probe.readings', 'ts', if_not_exists => true);
INSERT INTO molecule_probe.readings VALUES (now(), 'written-in-prepare');
