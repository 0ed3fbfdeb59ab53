-- Test fixture (Molecule scenario `migrations`): a second file claiming version 008.
CREATE TABLE factory_telemetry.duplicate_version (id integer PRIMARY KEY);
