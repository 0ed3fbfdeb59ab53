-- Test fixture (Molecule scenario `migrations`): a tenth migration that fails
-- half-way. Its first statements succeed; the fifth fails. The role must leave
-- neither the new table, nor the new column, nor a ledger row behind.
CREATE TABLE factory_telemetry.broken_tenth (id integer PRIMARY KEY);
INSERT INTO factory_telemetry.broken_tenth (id) VALUES (1);
ALTER TABLE factory_telemetry.production_lines ADD COLUMN broken_tenth_note text;
SELECT no_such_column FROM factory_telemetry.broken_tenth;
