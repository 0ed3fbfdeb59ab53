-- Test fixture (Molecule scenario `migrations`): a column added to a table with a
-- sensitive column; the role's privileges step must let the reporting role read it.
ALTER TABLE factory_telemetry.users ADD COLUMN badge_code text;
