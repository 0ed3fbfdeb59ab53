-- Extra migration applied by the rollback scenario to damage the schema: a new
-- table with rows and a new column on a hypertable. The rollback must remove both.
CREATE TABLE factory_telemetry.rollback_test_extra (
    id   integer PRIMARY KEY,
    note text NOT NULL
);

INSERT INTO factory_telemetry.rollback_test_extra (id, note)
SELECT i, 'extra ' || i FROM generate_series(1, 10) AS i;

ALTER TABLE factory_telemetry.energy_consumption ADD COLUMN rollback_test_note text;
