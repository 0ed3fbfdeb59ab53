-- 006_report_system.sql
-- Purpose : the report system: report templates, generated reports (files the
--           backend renders) and report schedules.
-- Depends : 001 (schema), 002 (users, production_lines).
-- Notes   : one transaction, owner role.

-- ---------------------------------------------------------------------------
-- Report templates.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.report_templates (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text        NOT NULL
        CONSTRAINT report_templates_name_key UNIQUE,
    description         text,
    report_type         text        NOT NULL
        CONSTRAINT report_templates_report_type_check
        CHECK (report_type IN ('production', 'oee', 'downtime', 'quality', 'maintenance',
                               'energy', 'andon', 'custom')),
    template_definition jsonb       NOT NULL,
    parameters          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    is_active           boolean     NOT NULL DEFAULT true,
    created_by          uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Generated reports. A report file stays valid when its template is retired:
-- template_id ON DELETE SET NULL (report_type keeps what it was).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.production_reports (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id         uuid
        REFERENCES factory_telemetry.report_templates (id) ON DELETE SET NULL,
    report_type         text        NOT NULL
        CONSTRAINT production_reports_report_type_check
        CHECK (report_type IN ('production', 'oee', 'downtime', 'quality', 'maintenance',
                               'energy', 'andon', 'custom')),
    title               text        NOT NULL,
    line_id             uuid
        REFERENCES factory_telemetry.production_lines (id) ON DELETE SET NULL,
    period_start        timestamptz NOT NULL,
    period_end          timestamptz NOT NULL,
    file_format         text        NOT NULL DEFAULT 'pdf'
        CONSTRAINT production_reports_file_format_check
        CHECK (file_format IN ('pdf', 'xlsx', 'csv', 'html')),
    file_path           text,
    file_size_bytes     bigint
        CONSTRAINT production_reports_file_size_check CHECK (file_size_bytes >= 0),
    status              text        NOT NULL DEFAULT 'pending'
        CONSTRAINT production_reports_status_check
        CHECK (status IN ('pending', 'generating', 'completed', 'failed')),
    error_message       text,
    parameters          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    generated_by        uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    generated_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT production_reports_period_check CHECK (period_end > period_start)
);

-- ---------------------------------------------------------------------------
-- Report schedules (cron expressions evaluated by the backend scheduler).
-- A schedule without its template cannot run: CASCADE.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.report_schedules (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id         uuid        NOT NULL
        REFERENCES factory_telemetry.report_templates (id) ON DELETE CASCADE,
    name                text        NOT NULL,
    cron_expression     text        NOT NULL,
    timezone            text        NOT NULL DEFAULT 'UTC',
    line_id             uuid
        REFERENCES factory_telemetry.production_lines (id) ON DELETE CASCADE,
    file_format         text        NOT NULL DEFAULT 'pdf'
        CONSTRAINT report_schedules_file_format_check
        CHECK (file_format IN ('pdf', 'xlsx', 'csv', 'html')),
    recipients          text[]      NOT NULL DEFAULT '{}',
    is_active           boolean     NOT NULL DEFAULT true,
    last_run_at         timestamptz,
    next_run_at         timestamptz,
    created_by          uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- five cron fields (minute hour day-of-month month day-of-week)
    CONSTRAINT report_schedules_cron_check
        CHECK (array_length(regexp_split_to_array(btrim(cron_expression), '\s+'), 1) = 5)
);

-- Index: "reports list" (newest first, filtered by type) in the reports screen.
CREATE INDEX production_reports_type_created_idx
    ON factory_telemetry.production_reports (report_type, created_at DESC);

-- report_schedules and report_templates stay small (tens of rows): no index
-- beyond their keys.

-- Table descriptions (shown by psql describe commands and catalog tools).
COMMENT ON TABLE factory_telemetry.report_templates IS
    'Report templates';
COMMENT ON TABLE factory_telemetry.production_reports IS
    'Generated reports (files rendered by the backend)';
COMMENT ON TABLE factory_telemetry.report_schedules IS
    'Cron schedules that generate reports from templates';
