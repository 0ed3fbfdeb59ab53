-- Test fixture (Molecule scenario `migrations`): a file name without the
-- three-digit version the role requires.
CREATE TABLE factory_telemetry.bad_name (id integer PRIMARY KEY);
