-- 008_fix_critical_schema_issues.sql
-- Purpose : corrections from the review of migrations 001-007. Each fix below
--           says what was wrong, why it matters, and what changes. Applied
--           files are never edited (their checksums are in the ledger); fixes
--           go here.
-- Depends : 001-007.
-- Notes   : one transaction, owner role. Steps that validate existing rows
--           (NOT NULL, CHECK, UNIQUE) fail with PostgreSQL's message naming the
--           constraint if old data violates them; the whole file then rolls
--           back and nothing changes. Clean the offending rows and re-run.

-- ---------------------------------------------------------------------------
-- Fix 1 (column type): production_schedules.scheduled_start/scheduled_end were
-- `timestamp` WITHOUT time zone while every other time column is timestamptz.
-- Schedules crossing a DST change were an hour off and comparisons with
-- downtime/OEE timestamps depended on the session time zone. The backend has
-- always written UTC, so existing values are interpreted as UTC.
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.production_schedules
    ALTER COLUMN scheduled_start TYPE timestamptz USING scheduled_start AT TIME ZONE 'UTC',
    ALTER COLUMN scheduled_end TYPE timestamptz USING scheduled_end AT TIME ZONE 'UTC';

-- ---------------------------------------------------------------------------
-- Fix 2 (wrong ON DELETE): production_schedules.line_id was ON DELETE CASCADE:
-- deleting a production line silently deleted its schedules and, cascading
-- further, job assignments and checklist completions (audit records). Every other
-- history table refuses the delete (RESTRICT); schedules now do too. Retire a
-- line with production_lines.enabled = false.
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.production_schedules
    DROP CONSTRAINT production_schedules_line_id_fkey,
    ADD CONSTRAINT production_schedules_line_id_fkey FOREIGN KEY (line_id)
        REFERENCES factory_telemetry.production_lines (id) ON DELETE RESTRICT;

-- ---------------------------------------------------------------------------
-- Fix 3 (wrong ON DELETE): andon_escalation_recipients.user_id was ON DELETE
-- CASCADE: deleting an application user silently removed an escalation
-- recipient, so a critical Andon could reach nobody. Now RESTRICT: reassign or
-- disable the recipient first.
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.andon_escalation_recipients
    DROP CONSTRAINT andon_escalation_recipients_user_id_fkey,
    ADD CONSTRAINT andon_escalation_recipients_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES factory_telemetry.users (id) ON DELETE RESTRICT;

-- ---------------------------------------------------------------------------
-- Fix 4 (missing NOT NULL): andon_events.line_id was nullable, so an event
-- raised without a line disappeared from every per-line Andon board and report.
-- Backfill from the equipment's configured line, then enforce NOT NULL (an event
-- whose equipment has no line makes this step fail: assign the line first).
-- ---------------------------------------------------------------------------
UPDATE factory_telemetry.andon_events AS a
SET line_id = e.production_line_id
FROM factory_telemetry.equipment_config AS e
WHERE a.line_id IS NULL
  AND e.equipment_code = a.equipment_code
  AND e.production_line_id IS NOT NULL;

ALTER TABLE factory_telemetry.andon_events
    ALTER COLUMN line_id SET NOT NULL;

-- ---------------------------------------------------------------------------
-- Fix 5 (missing UNIQUE + missing FK index): nothing stopped two escalation
-- workers from raising the same level of the same event twice (double
-- notifications), and andon_escalations.andon_event_id had no index (every
-- "escalations of this event" lookup and every CASCADE delete scanned the
-- table). One UNIQUE constraint fixes both: its index leads with the FK column.
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.andon_escalations
    ADD CONSTRAINT andon_escalations_event_level_key UNIQUE (andon_event_id, escalation_level);

-- ---------------------------------------------------------------------------
-- Fix 6 (missing FK index): job_assignments.user_id had no index. "My jobs"
-- (the operator's main screen) scanned all assignments, and the RESTRICT check
-- on deleting a user did too.
-- ---------------------------------------------------------------------------
CREATE INDEX job_assignments_user_assigned_idx
    ON factory_telemetry.job_assignments (user_id, assigned_at DESC);

-- ---------------------------------------------------------------------------
-- Fix 7 (missing FK index): maintenance_work_orders.assigned_to had no index;
-- the technician's "my open work orders" list scanned the table. Partial: only
-- work that is still open is listed there.
-- ---------------------------------------------------------------------------
CREATE INDEX maintenance_work_orders_assigned_open_idx
    ON factory_telemetry.maintenance_work_orders (assigned_to, due_date)
    WHERE status NOT IN ('completed', 'cancelled');

-- ---------------------------------------------------------------------------
-- Fix 8 (missing FK indexes on growing history tables): their parents are
-- deleted in normal operation (a recipient leaves, a template is retired) and
-- ON DELETE SET NULL then rewrote rows found by a full scan of every
-- notification / generated report ever written.
-- ---------------------------------------------------------------------------
-- Serves: SET NULL from andon_escalation_recipients; "notifications sent to
-- this recipient" (recipient detail screen).
CREATE INDEX andon_escalation_history_recipient_idx
    ON factory_telemetry.andon_escalation_history (recipient_id, performed_at DESC)
    WHERE recipient_id IS NOT NULL;

-- Serves: SET NULL from report_templates; "reports generated from this template".
CREATE INDEX production_reports_template_idx
    ON factory_telemetry.production_reports (template_id, created_at DESC)
    WHERE template_id IS NOT NULL;

-- Serves: SET NULL from production_lines; "reports of this line" (line detail).
CREATE INDEX production_reports_line_idx
    ON factory_telemetry.production_reports (line_id, period_start DESC)
    WHERE line_id IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Fix 9 (NULLs in a UNIQUE key): production_kpis UNIQUE (line_id, kpi_date,
-- shift_id) did not stop duplicate whole-day rows, because shift_id is NULL for
-- them and NULLs are distinct in a plain UNIQUE. NULLS NOT DISTINCT (PG 15+)
-- makes "one whole-day row per line and day" hold. Still includes kpi_date, as
-- a unique key on a hypertable must.
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.production_kpis
    DROP CONSTRAINT production_kpis_line_date_shift_key,
    ADD CONSTRAINT production_kpis_line_date_shift_key
        UNIQUE NULLS NOT DISTINCT (line_id, kpi_date, shift_id);

-- ---------------------------------------------------------------------------
-- Fix 10 (missing CHECKs): ranges and orderings that were only assumed.
-- ---------------------------------------------------------------------------
-- A fault cannot clear before it was raised; the duration cannot be negative.
ALTER TABLE factory_telemetry.fault_event
    ADD CONSTRAINT fault_event_off_after_on CHECK (ts_off IS NULL OR ts_off >= ts_on),
    ADD CONSTRAINT fault_event_duration_check CHECK (duration_s IS NULL OR duration_s >= 0);

-- A downtime cannot end before it starts; the duration cannot be negative.
ALTER TABLE factory_telemetry.downtime_events
    ADD CONSTRAINT downtime_events_end_after_start CHECK (end_time IS NULL OR end_time >= start_time),
    ADD CONSTRAINT downtime_events_duration_check CHECK (duration_seconds IS NULL OR duration_seconds >= 0);

-- Passed + failed cannot exceed what was checked.
ALTER TABLE factory_telemetry.quality_checks
    ADD CONSTRAINT quality_checks_quantities_check
        CHECK (quantity_passed + quantity_failed <= quantity_checked);

-- Good parts are a subset of all parts; run time is part of planned time.
ALTER TABLE factory_telemetry.oee_calculations
    ADD CONSTRAINT oee_calculations_good_le_total CHECK (good_parts <= total_parts),
    ADD CONSTRAINT oee_calculations_run_le_planned CHECK (run_time <= planned_production_time);

ALTER TABLE factory_telemetry.production_kpis
    ADD CONSTRAINT production_kpis_good_le_total CHECK (good_production <= total_production);

-- A sample without any value is meaningless (it broke "latest value" screens).
ALTER TABLE factory_telemetry.metric_hist
    ADD CONSTRAINT metric_hist_has_value
        CHECK (num_nonnulls(value_bool, value_int, value_real, value_text, value_json) >= 1);

ALTER TABLE factory_telemetry.metric_latest
    ADD CONSTRAINT metric_latest_has_value
        CHECK (num_nonnulls(value_bool, value_int, value_real, value_text, value_json) >= 1);

-- ---------------------------------------------------------------------------
-- Fix 11 (missing UNIQUE): users.email had no unique constraint at
-- all; the application logs in by e-mail case-insensitively, so "A@x" and
-- "a@x" could be two accounts. Unique on lower(email); NULL (no e-mail) allowed.
-- ---------------------------------------------------------------------------
CREATE UNIQUE INDEX users_email_lower_key
    ON factory_telemetry.users (lower(email));

-- ---------------------------------------------------------------------------
-- Fix 12 (stale updated_at): nine tables have an updated_at column that nothing
-- maintained after INSERT. A trigger sets it on every UPDATE.
-- ---------------------------------------------------------------------------
CREATE FUNCTION factory_telemetry.set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION factory_telemetry.set_updated_at() IS
    'Trigger function: keeps updated_at current on UPDATE';

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON factory_telemetry.users
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER production_lines_set_updated_at
    BEFORE UPDATE ON factory_telemetry.production_lines
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER equipment_config_set_updated_at
    BEFORE UPDATE ON factory_telemetry.equipment_config
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER product_types_set_updated_at
    BEFORE UPDATE ON factory_telemetry.product_types
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER production_schedules_set_updated_at
    BEFORE UPDATE ON factory_telemetry.production_schedules
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER maintenance_work_orders_set_updated_at
    BEFORE UPDATE ON factory_telemetry.maintenance_work_orders
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER report_templates_set_updated_at
    BEFORE UPDATE ON factory_telemetry.report_templates
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER plc_connections_set_updated_at
    BEFORE UPDATE ON factory_telemetry.plc_connections
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();

CREATE TRIGGER context_set_updated_at
    BEFORE UPDATE ON factory_telemetry.context
    FOR EACH ROW EXECUTE FUNCTION factory_telemetry.set_updated_at();
