-- Test fixture (Molecule scenario `migrations`): a migration with its own
-- transaction control, which the role must refuse before running anything.
BEGIN;
CREATE TABLE factory_telemetry.explicit_transaction (id integer PRIMARY KEY);
COMMIT;
