-- 009_database_optimization.sql
-- Purpose : what the dashboards and the backend query: indexes on their query
--           paths, the dashboard views, and the calculation functions
--           factory_telemetry.calculate_oee (OEE over a window) and
--           factory_telemetry.andon_escalation_due_at / andon_next_escalation
--           (Andon escalation due time).
-- Depends : 001-008 (in particular 008's timestamptz schedules and
--           andon_escalations (andon_event_id, escalation_level) key).
-- Notes   : one transaction, owner role; plain CREATE INDEX (CONCURRENTLY is not
--           possible in a transaction nor on hypertables). Views that would scan
--           whole hypertables are bounded to a recent window (stated per view);
--           for longer periods call the functions or read production_kpis.

-- ===========================================================================
-- Indexes (each names the query path it serves)
-- ===========================================================================

-- calculate_oee() and v_oee_by_line_shift / v_line_status: "OEE rows of one
-- line in a time window". The 004 index leads with equipment_code, the
-- hypertable's default index has no line_id.
CREATE INDEX oee_calculations_line_time_idx
    ON factory_telemetry.oee_calculations (line_id, calculation_time DESC);

-- v_energy_per_unit: "energy of one line per day". Utilities without a line
-- (line_id NULL) are never queried per line: partial.
CREATE INDEX energy_consumption_line_time_idx
    ON factory_telemetry.energy_consumption (line_id, consumption_time DESC)
    WHERE line_id IS NOT NULL;

-- v_line_status: "is this line down right now" = open downtime events of a line.
CREATE INDEX downtime_events_open_idx
    ON factory_telemetry.downtime_events (line_id)
    WHERE end_time IS NULL;

-- v_maintenance_backlog: open work orders by due date (the backlog list).
CREATE INDEX maintenance_work_orders_backlog_idx
    ON factory_telemetry.maintenance_work_orders (due_date, priority)
    WHERE status NOT IN ('completed', 'cancelled');

-- v_production_vs_schedule: schedules that are not finished, by start time.
CREATE INDEX production_schedules_active_idx
    ON factory_telemetry.production_schedules (scheduled_start)
    WHERE status IN ('scheduled', 'in_progress', 'paused');

-- Not indexed on purpose: v_andon_open_escalations reads open events through
-- andon_events_open_idx (005); fault_active only holds the bits set right now.

-- ===========================================================================
-- Functions
-- ===========================================================================

-- OEE of a production line over [p_start, p_end):
--   availability = run time / planned production time, where
--       planned production time = window - planned downtime, and
--       run time = planned production time - other downtime,
--     from downtime_events of the line (overlapping events are merged, so two
--     machines down at once count once; an open event lasts until now()).
--     Only events that started at most 31 days before p_start are read, so a call
--     touches a few chunks, not the whole history: record a stop longer than a
--     month as consecutive events.
--   performance  = sum(ideal_cycle_time * total_parts) / sum(run_time) of the
--     line's oee_calculations rows in the window (capped at 1: above 100 % means
--     the ideal cycle time is configured too slow),
--   quality      = sum(good_parts) / sum(total_parts),
--   oee          = availability * performance * quality.
-- A component is NULL when its denominator is zero (no planned time, no run time
-- recorded, no parts); oee is then NULL too. Values are fractions (0..1).
CREATE FUNCTION factory_telemetry.calculate_oee(
    p_line_id uuid,
    p_start timestamptz,
    p_end timestamptz
)
RETURNS TABLE (
    availability numeric,
    performance numeric,
    quality numeric,
    oee numeric
)
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_window       tstzmultirange;
    v_planned_down tstzmultirange;
    v_other_down   tstzmultirange;
    v_planned_s    numeric;
    v_run_s        numeric;
    v_ideal_s      numeric;
    v_oee_run_s    numeric;
    v_total        numeric;
    v_good         numeric;
BEGIN
    IF p_line_id IS NULL OR p_start IS NULL OR p_end IS NULL THEN
        RAISE EXCEPTION 'calculate_oee: p_line_id, p_start and p_end must not be NULL';
    END IF;
    IF p_end <= p_start THEN
        RAISE EXCEPTION 'calculate_oee: p_end (%) must be after p_start (%)', p_end, p_start;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM factory_telemetry.production_lines AS l WHERE l.id = p_line_id) THEN
        RAISE EXCEPTION 'calculate_oee: no production line with id %', p_line_id;
    END IF;

    v_window := tstzmultirange(tstzrange(p_start, p_end, '[)'));

    -- merged downtime intervals of the line, clipped to the window
    SELECT
        COALESCE(range_agg(r) FILTER (WHERE d.category = 'planned'), '{}'::tstzmultirange) * v_window,
        COALESCE(range_agg(r) FILTER (WHERE d.category <> 'planned'), '{}'::tstzmultirange) * v_window
    INTO v_planned_down, v_other_down
    FROM factory_telemetry.downtime_events AS d
    CROSS JOIN LATERAL tstzrange(d.start_time, GREATEST(d.start_time, COALESCE(d.end_time, now())), '[)') AS r
    WHERE d.line_id = p_line_id
      AND d.start_time < p_end
      -- bounded lookback: lets TimescaleDB read only the chunks it needs instead
      -- of every chunk of the line's history (see the function's header)
      AND d.start_time >= p_start - INTERVAL '31 days'
      AND (d.end_time IS NULL OR d.end_time > p_start);

    -- planned time = window minus planned downtime; run = planned minus other downtime
    SELECT COALESCE(sum(EXTRACT(EPOCH FROM upper(x) - lower(x))), 0)
    INTO v_planned_s
    FROM unnest(v_window - v_planned_down) AS x;

    SELECT COALESCE(sum(EXTRACT(EPOCH FROM upper(x) - lower(x))), 0)
    INTO v_run_s
    FROM unnest(v_window - v_planned_down - v_other_down) AS x;

    SELECT sum(o.ideal_cycle_time * o.total_parts), sum(o.run_time), sum(o.total_parts), sum(o.good_parts)
    INTO v_ideal_s, v_oee_run_s, v_total, v_good
    FROM factory_telemetry.oee_calculations AS o
    WHERE o.line_id = p_line_id
      AND o.calculation_time >= p_start
      AND o.calculation_time < p_end;

    availability := CASE WHEN v_planned_s > 0 THEN round(v_run_s / v_planned_s, 4) END;
    performance := CASE WHEN v_oee_run_s > 0 THEN round(LEAST(v_ideal_s / v_oee_run_s, 1), 4) END;
    quality := CASE WHEN v_total > 0 THEN round(v_good / v_total, 4) END;
    oee := round(availability * performance * quality, 4);
    RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION factory_telemetry.calculate_oee(uuid, timestamptz, timestamptz) IS
    'OEE of a line over [start, end): availability (downtime_events), performance and quality (oee_calculations), oee; fractions 0..1';

-- When escalation level p_escalation_level of an Andon event of priority
-- p_priority, created at p_created_at, is due: created_at + the enabled rule's
-- delay_minutes. NULL when no enabled rule exists for that priority and level.
CREATE FUNCTION factory_telemetry.andon_escalation_due_at(
    p_priority text,
    p_escalation_level integer,
    p_created_at timestamptz
)
RETURNS timestamptz
LANGUAGE sql
STABLE
AS $$
    SELECT p_created_at + make_interval(mins => r.delay_minutes)
    FROM factory_telemetry.andon_escalation_rules AS r
    WHERE r.priority = p_priority
      AND r.escalation_level = p_escalation_level
      AND r.enabled
$$;

COMMENT ON FUNCTION factory_telemetry.andon_escalation_due_at(text, integer, timestamptz) IS
    'Due time of an escalation level for an Andon priority: created_at + rule delay; NULL without an enabled rule';

-- The next escalation an open Andon event is waiting for: the lowest enabled
-- level above the highest level already raised, and when it is due. No row when
-- the event is not escalating any more (acknowledged, in progress, resolved,
-- cancelled) or every level has been raised.
CREATE FUNCTION factory_telemetry.andon_next_escalation(p_andon_event_id uuid)
RETURNS TABLE (escalation_level integer, due_at timestamptz)
LANGUAGE sql
STABLE
AS $$
    SELECT r.escalation_level,
           factory_telemetry.andon_escalation_due_at(e.priority, r.escalation_level, e.created_at)
    FROM factory_telemetry.andon_events AS e
    JOIN factory_telemetry.andon_escalation_rules AS r
      ON r.priority = e.priority AND r.enabled
    WHERE e.id = p_andon_event_id
      AND e.status IN ('open', 'escalated')
      AND r.escalation_level > COALESCE(
            (SELECT max(x.escalation_level)
             FROM factory_telemetry.andon_escalations AS x
             WHERE x.andon_event_id = e.id), 0)
    ORDER BY r.escalation_level
    LIMIT 1
$$;

COMMENT ON FUNCTION factory_telemetry.andon_next_escalation(uuid) IS
    'Next escalation level an open Andon event waits for, and its due time';

-- ===========================================================================
-- Views for the dashboards
-- ===========================================================================

-- Active faults with their meaning, equipment, line and how long they have been on.
CREATE VIEW factory_telemetry.v_active_faults AS
SELECT
    a.equipment_code,
    e.name AS equipment_name,
    l.line_code,
    l.name AS line_name,
    a.bit_index,
    c.fault_code,
    c.description,
    c.severity,
    a.ts_on,
    now() - a.ts_on AS active_for
FROM factory_telemetry.fault_active AS a
JOIN factory_telemetry.fault_catalog AS c
  ON c.equipment_code = a.equipment_code AND c.bit_index = a.bit_index
LEFT JOIN factory_telemetry.equipment_config AS e ON e.equipment_code = a.equipment_code
LEFT JOIN factory_telemetry.production_lines AS l ON l.id = e.production_line_id;

COMMENT ON VIEW factory_telemetry.v_active_faults IS
    'Dashboard: faults currently active, with meaning, equipment, line and duration';

-- Line status: one row per enabled line: machines and their states, open
-- downtime, active faults, open Andon events, OEE of the last hour. Each source
-- is aggregated once for all lines (open downtime is read through the partial
-- index downtime_events_open_idx, once, not per line).
CREATE VIEW factory_telemetry.v_line_status AS
WITH equipment AS (
    SELECT e.production_line_id AS line_id, count(*) AS equipment_count
    FROM factory_telemetry.equipment_config AS e
    WHERE e.enabled
    GROUP BY e.production_line_id
),
running AS (
    SELECT c.production_line_id AS line_id, count(*) AS equipment_running
    FROM factory_telemetry.context AS c
    WHERE c.production_state = 'running'
    GROUP BY c.production_line_id
),
open_downtime AS (
    SELECT d.line_id, count(*) AS open_downtime_events
    FROM factory_telemetry.downtime_events AS d
    WHERE d.end_time IS NULL
    GROUP BY d.line_id
),
faults AS (
    SELECT e.production_line_id AS line_id, count(*) AS active_faults
    FROM factory_telemetry.fault_active AS f
    JOIN factory_telemetry.equipment_config AS e ON e.equipment_code = f.equipment_code
    GROUP BY e.production_line_id
),
andon AS (
    SELECT a.line_id, count(*) AS open_andon_events
    FROM factory_telemetry.andon_events AS a
    WHERE a.status NOT IN ('resolved', 'cancelled')
    GROUP BY a.line_id
)
SELECT
    l.id AS line_id,
    l.line_code,
    l.name,
    COALESCE(eq.equipment_count, 0) AS equipment_count,
    COALESCE(r.equipment_running, 0) AS equipment_running,
    COALESCE(od.open_downtime_events, 0) AS open_downtime_events,
    COALESCE(f.active_faults, 0) AS active_faults,
    COALESCE(an.open_andon_events, 0) AS open_andon_events,
    CASE
        WHEN od.open_downtime_events > 0 THEN 'down'
        WHEN r.equipment_running > 0 THEN 'running'
        ELSE 'idle'
    END AS status,
    o.oee AS oee_last_hour
FROM factory_telemetry.production_lines AS l
LEFT JOIN equipment AS eq ON eq.line_id = l.id
LEFT JOIN running AS r ON r.line_id = l.id
LEFT JOIN open_downtime AS od ON od.line_id = l.id
LEFT JOIN faults AS f ON f.line_id = l.id
LEFT JOIN andon AS an ON an.line_id = l.id
CROSS JOIN LATERAL factory_telemetry.calculate_oee(l.id, now() - INTERVAL '1 hour', now()) AS o
WHERE l.enabled;

COMMENT ON VIEW factory_telemetry.v_line_status IS
    'Dashboard: status of every enabled line (down / running / idle), counts, OEE of the last hour';

-- OEE by line and shift for the last 7 days (live shift board; history is in
-- production_kpis / v_kpi_daily). Shift times are read in the session time zone;
-- a shift that crosses midnight belongs to the day it started.
CREATE VIEW factory_telemetry.v_oee_by_line_shift AS
WITH assigned AS (
    SELECT
        o.line_id,
        s.id AS shift_id,
        s.shift_code,
        CASE
            WHEN s.end_time < s.start_time AND o.calculation_time::time < s.end_time
                THEN (o.calculation_time::date - 1)
            ELSE o.calculation_time::date
        END AS shift_date,
        o.run_time,
        o.planned_production_time,
        o.ideal_cycle_time * o.total_parts AS ideal_time,
        o.total_parts,
        o.good_parts
    FROM factory_telemetry.oee_calculations AS o
    JOIN factory_telemetry.shifts AS s
      ON s.is_active
     AND CASE
            WHEN s.start_time < s.end_time
                THEN o.calculation_time::time >= s.start_time AND o.calculation_time::time < s.end_time
            ELSE o.calculation_time::time >= s.start_time OR o.calculation_time::time < s.end_time
         END
    WHERE o.calculation_time >= now() - INTERVAL '7 days'
),
agg AS (
    SELECT
        line_id, shift_id, shift_code, shift_date,
        sum(run_time)::numeric AS run_s,
        sum(planned_production_time)::numeric AS planned_s,
        sum(ideal_time) AS ideal_s,
        sum(total_parts)::numeric AS total_parts,
        sum(good_parts)::numeric AS good_parts
    FROM assigned
    GROUP BY line_id, shift_id, shift_code, shift_date
)
SELECT
    a.line_id,
    l.line_code,
    a.shift_date,
    a.shift_id,
    a.shift_code,
    a.total_parts,
    a.good_parts,
    round(a.run_s / NULLIF(a.planned_s, 0), 4) AS availability,
    round(LEAST(a.ideal_s / NULLIF(a.run_s, 0), 1), 4) AS performance,
    round(a.good_parts / NULLIF(a.total_parts, 0), 4) AS quality,
    round((a.run_s / NULLIF(a.planned_s, 0))
          * LEAST(a.ideal_s / NULLIF(a.run_s, 0), 1)
          * (a.good_parts / NULLIF(a.total_parts, 0)), 4) AS oee
FROM agg AS a
JOIN factory_telemetry.production_lines AS l ON l.id = a.line_id;

COMMENT ON VIEW factory_telemetry.v_oee_by_line_shift IS
    'Dashboard: OEE per line, shift and shift date over the last 7 days (from oee_calculations)';

-- Downtime Pareto per line over the last 30 days: minutes per reason, share of the
-- line's downtime and cumulative share (largest reasons first). Open events count
-- until now().
CREATE VIEW factory_telemetry.v_downtime_pareto AS
WITH per_reason AS (
    SELECT
        d.line_id,
        d.reason_code,
        d.category,
        count(*) AS events,
        sum(EXTRACT(EPOCH FROM COALESCE(d.end_time, now()) - d.start_time)) / 60.0 AS minutes
    FROM factory_telemetry.downtime_events AS d
    WHERE d.start_time >= now() - INTERVAL '30 days'
    GROUP BY d.line_id, d.reason_code, d.category
)
SELECT
    p.line_id,
    l.line_code,
    p.reason_code,
    p.category,
    p.events,
    round(p.minutes::numeric, 1) AS downtime_minutes,
    round((100.0 * p.minutes / NULLIF(sum(p.minutes) OVER w_line, 0))::numeric, 1) AS pct_of_line,
    round((100.0 * sum(p.minutes) OVER w_cum / NULLIF(sum(p.minutes) OVER w_line, 0))::numeric, 1)
        AS cumulative_pct,
    rank() OVER (PARTITION BY p.line_id ORDER BY p.minutes DESC) AS pareto_rank
FROM per_reason AS p
JOIN factory_telemetry.production_lines AS l ON l.id = p.line_id
WINDOW
    w_line AS (PARTITION BY p.line_id),
    w_cum AS (PARTITION BY p.line_id ORDER BY p.minutes DESC, p.reason_code
              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

COMMENT ON VIEW factory_telemetry.v_downtime_pareto IS
    'Dashboard: downtime minutes per line and reason over the last 30 days, with Pareto shares';

-- Production vs schedule: every schedule not finished or cancelled, with what was
-- produced so far by its jobs and whether it is behind the time-proportional plan.
CREATE VIEW factory_telemetry.v_production_vs_schedule AS
SELECT
    s.id AS schedule_id,
    l.line_code,
    p.product_code,
    s.status,
    s.priority,
    s.scheduled_start,
    s.scheduled_end,
    s.target_quantity,
    COALESCE(j.produced, 0) AS produced_quantity,
    round(100.0 * COALESCE(j.produced, 0) / s.target_quantity, 1) AS progress_pct,
    round(100.0 * LEAST(GREATEST(
        EXTRACT(EPOCH FROM now() - s.scheduled_start)
        / EXTRACT(EPOCH FROM s.scheduled_end - s.scheduled_start), 0), 1), 1) AS planned_progress_pct,
    (COALESCE(j.produced, 0) < s.target_quantity * LEAST(GREATEST(
        EXTRACT(EPOCH FROM now() - s.scheduled_start)
        / EXTRACT(EPOCH FROM s.scheduled_end - s.scheduled_start), 0), 1)) AS behind_schedule
FROM factory_telemetry.production_schedules AS s
JOIN factory_telemetry.production_lines AS l ON l.id = s.line_id
JOIN factory_telemetry.product_types AS p ON p.id = s.product_type_id
LEFT JOIN LATERAL (
    SELECT sum(ja.produced_quantity) AS produced
    FROM factory_telemetry.job_assignments AS ja
    WHERE ja.schedule_id = s.id AND ja.status <> 'cancelled'
) AS j ON true
WHERE s.status IN ('scheduled', 'in_progress', 'paused');

COMMENT ON VIEW factory_telemetry.v_production_vs_schedule IS
    'Dashboard: active schedules, produced vs target, and behind-plan flag';

-- Energy per good unit, per line and day, over the last 30 days.
CREATE VIEW factory_telemetry.v_energy_per_unit AS
WITH energy AS (
    SELECT ec.line_id, time_bucket(INTERVAL '1 day', ec.consumption_time) AS day,
           sum(ec.energy_kwh) AS energy_kwh
    FROM factory_telemetry.energy_consumption AS ec
    WHERE ec.line_id IS NOT NULL
      AND ec.consumption_time >= now() - INTERVAL '30 days'
    GROUP BY 1, 2
),
output AS (
    SELECT o.line_id, time_bucket(INTERVAL '1 day', o.calculation_time) AS day,
           sum(o.good_parts) AS good_parts
    FROM factory_telemetry.oee_calculations AS o
    WHERE o.calculation_time >= now() - INTERVAL '30 days'
    GROUP BY 1, 2
)
SELECT
    e.line_id,
    l.line_code,
    e.day,
    e.energy_kwh,
    COALESCE(o.good_parts, 0) AS good_parts,
    round(e.energy_kwh / NULLIF(o.good_parts, 0), 6) AS kwh_per_unit
FROM energy AS e
JOIN factory_telemetry.production_lines AS l ON l.id = e.line_id
LEFT JOIN output AS o ON o.line_id = e.line_id AND o.day = e.day;

COMMENT ON VIEW factory_telemetry.v_energy_per_unit IS
    'Dashboard: kWh per good unit per line and UTC day, last 30 days';

-- Open Andon events with the escalation they are waiting for and whether it is overdue.
CREATE VIEW factory_telemetry.v_andon_open_escalations AS
SELECT
    e.id AS andon_event_id,
    l.line_code,
    e.equipment_code,
    e.event_type,
    e.priority,
    e.status,
    e.description,
    e.created_at,
    now() - e.created_at AS open_for,
    (SELECT max(x.escalation_level) FROM factory_telemetry.andon_escalations AS x
      WHERE x.andon_event_id = e.id) AS current_level,
    n.escalation_level AS next_level,
    n.due_at AS next_due_at,
    COALESCE(n.due_at <= now(), false) AS escalation_overdue
FROM factory_telemetry.andon_events AS e
JOIN factory_telemetry.production_lines AS l ON l.id = e.line_id
LEFT JOIN LATERAL factory_telemetry.andon_next_escalation(e.id) AS n ON true
WHERE e.status IN ('open', 'escalated');

COMMENT ON VIEW factory_telemetry.v_andon_open_escalations IS
    'Dashboard: open Andon events, current and next escalation level, due time, overdue flag';

-- Daily KPIs per line (the whole-day rows, shift_id NULL, written by the daily job).
CREATE VIEW factory_telemetry.v_kpi_daily AS
SELECT
    k.line_id,
    l.line_code,
    k.kpi_date,
    k.availability,
    k.performance,
    k.quality,
    k.oee,
    k.total_production,
    k.good_production,
    k.scrap_production,
    round(100.0 * k.scrap_production / NULLIF(k.total_production, 0), 2) AS scrap_rate_pct,
    k.planned_downtime_minutes,
    k.unplanned_downtime_minutes,
    k.mtbf_minutes,
    k.mttr_minutes,
    k.energy_kwh,
    round(k.energy_kwh / NULLIF(k.good_production, 0), 6) AS kwh_per_unit
FROM factory_telemetry.production_kpis AS k
JOIN factory_telemetry.production_lines AS l ON l.id = k.line_id
WHERE k.shift_id IS NULL;

COMMENT ON VIEW factory_telemetry.v_kpi_daily IS
    'Dashboard: whole-day KPIs per line (filter on kpi_date: chunk exclusion applies)';

-- Maintenance backlog: open work orders, overdue first, then by priority.
CREATE VIEW factory_telemetry.v_maintenance_backlog AS
SELECT
    w.id,
    w.work_order_number,
    w.equipment_code,
    l.line_code,
    w.title,
    w.work_type,
    w.priority,
    w.status,
    u.username AS assigned_to,
    w.due_date,
    COALESCE(w.due_date < now(), false) AS overdue,
    now() - w.created_at AS age,
    CASE w.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END
        AS priority_rank
FROM factory_telemetry.maintenance_work_orders AS w
LEFT JOIN factory_telemetry.users AS u ON u.id = w.assigned_to
LEFT JOIN factory_telemetry.equipment_config AS e ON e.equipment_code = w.equipment_code
LEFT JOIN factory_telemetry.production_lines AS l ON l.id = e.production_line_id
WHERE w.status NOT IN ('completed', 'cancelled');

COMMENT ON VIEW factory_telemetry.v_maintenance_backlog IS
    'Dashboard: open maintenance work orders with overdue flag and priority rank';

-- Quality per line and day over the last 30 days.
CREATE VIEW factory_telemetry.v_quality_summary AS
SELECT
    q.line_id,
    l.line_code,
    q.check_time::date AS check_date,
    count(*) AS checks,
    count(*) FILTER (WHERE q.check_result = 'fail') AS failed_checks,
    sum(q.quantity_checked) AS quantity_checked,
    sum(q.quantity_passed) AS quantity_passed,
    sum(q.quantity_failed) AS quantity_failed,
    round(100.0 * sum(q.quantity_passed) / NULLIF(sum(q.quantity_checked), 0), 2) AS pass_rate_pct
FROM factory_telemetry.quality_checks AS q
JOIN factory_telemetry.production_lines AS l ON l.id = q.line_id
WHERE q.check_time >= now() - INTERVAL '30 days'
GROUP BY q.line_id, l.line_code, q.check_time::date;

COMMENT ON VIEW factory_telemetry.v_quality_summary IS
    'Dashboard: quality checks per line and day over the last 30 days';
