-- Test fixture (Molecule scenario `migrations`): used with 009 missing, so its
-- version leaves a gap.
CREATE TABLE factory_telemetry.after_gap (id integer PRIMARY KEY);
