-- Test fixture (Molecule scenario `migrations`): a valid tenth migration, applied
-- after the backup role is installed, to prove the pre-migration backup runs first.
CREATE TABLE factory_telemetry.shift_handover_notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id uuid NOT NULL REFERENCES factory_telemetry.production_lines (id) ON DELETE CASCADE,
    written_at timestamptz NOT NULL DEFAULT now(),
    note text NOT NULL CHECK (btrim(note) <> '')
);

-- Serves "latest notes for a line".
CREATE INDEX idx_shift_handover_notes_line_written
    ON factory_telemetry.shift_handover_notes (line_id, written_at DESC);
