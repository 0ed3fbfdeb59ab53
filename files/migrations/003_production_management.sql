-- 003_production_management.sql
-- Purpose : production management: product types, shift definitions, production
--           schedules, job assignments to operators, pre-start checklists,
--           downtime events (hypertable), defect codes and quality checks.
-- Depends : 001 (schema), 002 (users, production_lines).
-- Notes   : one transaction, owner role, no extensions.

-- ---------------------------------------------------------------------------
-- Product types produced on the lines.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.product_types (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    product_code        text        NOT NULL
        CONSTRAINT product_types_product_code_key UNIQUE,
    name                text        NOT NULL,
    description         text,
    ideal_cycle_time    numeric(10, 3) NOT NULL
        CONSTRAINT product_types_ideal_cycle_time_check CHECK (ideal_cycle_time > 0),
    quality_specs       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    enabled             boolean     NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Shift definitions (e.g. A 06:00-14:00, N 22:00-06:00 crosses midnight).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.shifts (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    shift_code      text        NOT NULL
        CONSTRAINT shifts_shift_code_key UNIQUE,
    name            text        NOT NULL,
    start_time      time        NOT NULL,
    end_time        time        NOT NULL,
    is_active       boolean     NOT NULL DEFAULT true,
    CONSTRAINT shifts_not_zero_length CHECK (start_time <> end_time)
);

COMMENT ON COLUMN factory_telemetry.shifts.end_time IS
    'end_time < start_time means the shift crosses midnight';

-- ---------------------------------------------------------------------------
-- Production schedules: what to make on which line, when, how many.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.production_schedules (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    line_id             uuid        NOT NULL
        REFERENCES factory_telemetry.production_lines (id) ON DELETE CASCADE,
    product_type_id     uuid        NOT NULL
        REFERENCES factory_telemetry.product_types (id) ON DELETE RESTRICT,
    scheduled_start     timestamp   NOT NULL,
    scheduled_end       timestamp   NOT NULL,
    target_quantity     integer     NOT NULL
        CONSTRAINT production_schedules_target_quantity_check CHECK (target_quantity > 0),
    priority            integer     NOT NULL DEFAULT 5
        CONSTRAINT production_schedules_priority_check CHECK (priority BETWEEN 1 AND 10),
    status              text        NOT NULL DEFAULT 'scheduled'
        CONSTRAINT production_schedules_status_check
        CHECK (status IN ('scheduled', 'in_progress', 'paused', 'completed', 'cancelled')),
    created_by          uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT production_schedules_window_check CHECK (scheduled_end > scheduled_start)
);

-- ---------------------------------------------------------------------------
-- Job assignments: a schedule handed to an operator. Jobs belong to their
-- schedule (CASCADE); a user with job history cannot be deleted (RESTRICT:
-- deactivate users instead, the history must keep who did the job).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.job_assignments (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id     uuid        NOT NULL
        REFERENCES factory_telemetry.production_schedules (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL
        REFERENCES factory_telemetry.users (id) ON DELETE RESTRICT,
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    accepted_at     timestamptz,
    started_at      timestamptz,
    completed_at    timestamptz,
    status          text        NOT NULL DEFAULT 'assigned'
        CONSTRAINT job_assignments_status_check
        CHECK (status IN ('assigned', 'accepted', 'in_progress', 'completed', 'cancelled')),
    produced_quantity integer   NOT NULL DEFAULT 0
        CONSTRAINT job_assignments_produced_quantity_check CHECK (produced_quantity >= 0),
    notes           text
);

-- ---------------------------------------------------------------------------
-- Pre-start checklists: templates and their completions.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.checklist_templates (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text        NOT NULL
        CONSTRAINT checklist_templates_name_key UNIQUE,
    equipment_codes text[]      NOT NULL DEFAULT '{}',
    checklist_items jsonb       NOT NULL,
    enabled         boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checklist_templates_items_is_array
        CHECK (jsonb_typeof(checklist_items) = 'array')
);

CREATE TABLE factory_telemetry.checklist_completions (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    job_assignment_id   uuid        NOT NULL
        REFERENCES factory_telemetry.job_assignments (id) ON DELETE CASCADE,
    template_id         uuid        NOT NULL
        REFERENCES factory_telemetry.checklist_templates (id) ON DELETE RESTRICT,
    completed_by        uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    completed_at        timestamptz NOT NULL DEFAULT now(),
    responses           jsonb       NOT NULL,
    passed              boolean     NOT NULL
);

-- ---------------------------------------------------------------------------
-- Downtime events (irregular). Hypertable on start_time, 7 day chunks.
-- Deleting a line is refused while it has downtime history (RESTRICT): the
-- history is what OEE and the downtime Pareto are computed from.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.downtime_events (
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    line_id             uuid        NOT NULL
        REFERENCES factory_telemetry.production_lines (id) ON DELETE RESTRICT,
    equipment_code      text        NOT NULL,
    start_time          timestamptz NOT NULL,
    end_time            timestamptz,
    duration_seconds    integer,
    reason_code         text        NOT NULL,
    reason_description  text,
    category            text        NOT NULL
        CONSTRAINT downtime_events_category_check
        CHECK (category IN ('planned', 'unplanned', 'maintenance', 'changeover')),
    subcategory         text,
    reported_by         uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    confirmed_by        uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    confirmed_at        timestamptz,
    notes               text,
    CONSTRAINT downtime_events_pkey PRIMARY KEY (id, start_time)
);

SELECT create_hypertable(
    'factory_telemetry.downtime_events',
    by_range('start_time', INTERVAL '7 days')
);

-- ---------------------------------------------------------------------------
-- Defect codes and quality checks.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.defect_codes (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    code            text        NOT NULL
        CONSTRAINT defect_codes_code_key UNIQUE,
    name            text        NOT NULL,
    category        text        NOT NULL
        CONSTRAINT defect_codes_category_check
        CHECK (category IN ('dimensional', 'visual', 'functional', 'packaging', 'material', 'other')),
    severity        text        NOT NULL DEFAULT 'minor'
        CONSTRAINT defect_codes_severity_check
        CHECK (severity IN ('minor', 'major', 'critical')),
    product_type_id uuid
        REFERENCES factory_telemetry.product_types (id) ON DELETE CASCADE,
    is_active       boolean     NOT NULL DEFAULT true
);

CREATE TABLE factory_telemetry.quality_checks (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    line_id             uuid        NOT NULL
        REFERENCES factory_telemetry.production_lines (id) ON DELETE RESTRICT,
    product_type_id     uuid        NOT NULL
        REFERENCES factory_telemetry.product_types (id) ON DELETE RESTRICT,
    check_time          timestamptz NOT NULL DEFAULT now(),
    check_type          text        NOT NULL
        CONSTRAINT quality_checks_check_type_check
        CHECK (check_type IN ('incoming', 'in_process', 'final', 'audit')),
    check_result        text        NOT NULL
        CONSTRAINT quality_checks_check_result_check
        CHECK (check_result IN ('pass', 'fail', 'conditional_pass')),
    quantity_checked    integer     NOT NULL
        CONSTRAINT quality_checks_quantity_checked_check CHECK (quantity_checked > 0),
    quantity_passed     integer     NOT NULL
        CONSTRAINT quality_checks_quantity_passed_check CHECK (quantity_passed >= 0),
    quantity_failed     integer     NOT NULL
        CONSTRAINT quality_checks_quantity_failed_check CHECK (quantity_failed >= 0),
    defect_codes        text[]      NOT NULL DEFAULT '{}',
    checked_by          uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    notes               text
);

-- Index: "schedule of a line for a period" (production vs schedule screen, the
-- scheduler's overlap check). Leading line_id also serves the line FK.
CREATE INDEX production_schedules_line_start_idx
    ON factory_telemetry.production_schedules (line_id, scheduled_start);

-- Index: "jobs of a schedule" (schedule detail, ON DELETE CASCADE from schedules).
CREATE INDEX job_assignments_schedule_id_idx
    ON factory_telemetry.job_assignments (schedule_id);

-- Index: "checklists completed for a job" (job detail, CASCADE from jobs).
CREATE INDEX checklist_completions_job_assignment_id_idx
    ON factory_telemetry.checklist_completions (job_assignment_id);

-- Index: "downtime of a line in a window" (downtime pareto, calculate_oee).
CREATE INDEX downtime_events_line_start_idx
    ON factory_telemetry.downtime_events (line_id, start_time DESC);

-- Index: "quality checks of a line in a window" (quality dashboards, OEE quality).
CREATE INDEX quality_checks_line_time_idx
    ON factory_telemetry.quality_checks (line_id, check_time DESC);

-- Table descriptions (shown by psql describe commands and catalog tools).
COMMENT ON TABLE factory_telemetry.product_types IS
    'Products made on the lines, with their ideal cycle time';
COMMENT ON TABLE factory_telemetry.shifts IS
    'Shift definitions (times of day; end before start = crosses midnight)';
COMMENT ON TABLE factory_telemetry.production_schedules IS
    'What to make on which line, when, and how many';
COMMENT ON TABLE factory_telemetry.job_assignments IS
    'Schedules handed to operators, with produced quantity';
COMMENT ON TABLE factory_telemetry.checklist_templates IS
    'Pre-start checklist templates';
COMMENT ON TABLE factory_telemetry.checklist_completions IS
    'Completed checklists of a job';
COMMENT ON TABLE factory_telemetry.downtime_events IS
    'Line/equipment downtime with reason and category (hypertable on start_time)';
COMMENT ON TABLE factory_telemetry.defect_codes IS
    'Quality defect codes';
COMMENT ON TABLE factory_telemetry.quality_checks IS
    'Quality checks per line and product';
