-- 004_advanced_production_features.sql
-- Purpose : measurements for OEE and plant KPIs: per-interval OEE calculations
--           (hypertable), daily production KPIs (hypertable), energy consumption
--           (hypertable) and maintenance work orders.
-- Depends : 001 (schema), 002 (users, production_lines), 003 (shifts).
-- Notes   : one transaction, owner role. Chunk intervals follow the migration plan
--           (oee_calculations 1 day, energy_consumption 1 day); the
--           timescaledb_policies role may change them and owns compression/retention.

-- ---------------------------------------------------------------------------
-- OEE calculations: one row per equipment per interval (normally 1 minute),
-- written by the backend's OEE calculator. The row keeps the raw components
-- (times and counts), so OEE over any window can be recomputed by summing them
-- (factory_telemetry.calculate_oee, migration 009) instead of averaging ratios.
-- Hypertable on calculation_time, 1 day chunks.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.oee_calculations (
    id                      bigint      GENERATED ALWAYS AS IDENTITY,
    line_id                 uuid        NOT NULL
        REFERENCES factory_telemetry.production_lines (id) ON DELETE RESTRICT,
    equipment_code          text        NOT NULL,
    calculation_time        timestamptz NOT NULL,
    interval_seconds        integer     NOT NULL DEFAULT 60
        CONSTRAINT oee_calculations_interval_seconds_check CHECK (interval_seconds > 0),
    planned_production_time integer     NOT NULL
        CONSTRAINT oee_calculations_planned_time_check CHECK (planned_production_time >= 0),
    run_time                integer     NOT NULL
        CONSTRAINT oee_calculations_run_time_check CHECK (run_time >= 0),
    ideal_cycle_time        numeric(10, 3) NOT NULL
        CONSTRAINT oee_calculations_ideal_cycle_time_check CHECK (ideal_cycle_time > 0),
    total_parts             integer     NOT NULL DEFAULT 0
        CONSTRAINT oee_calculations_total_parts_check CHECK (total_parts >= 0),
    good_parts              integer     NOT NULL DEFAULT 0
        CONSTRAINT oee_calculations_good_parts_check CHECK (good_parts >= 0),
    availability            numeric(6, 4)
        CONSTRAINT oee_calculations_availability_check CHECK (availability BETWEEN 0 AND 1),
    performance             numeric(6, 4)
        CONSTRAINT oee_calculations_performance_check CHECK (performance >= 0),
    quality                 numeric(6, 4)
        CONSTRAINT oee_calculations_quality_check CHECK (quality BETWEEN 0 AND 1),
    oee                     numeric(6, 4)
        CONSTRAINT oee_calculations_oee_check CHECK (oee BETWEEN 0 AND 1),
    CONSTRAINT oee_calculations_pkey PRIMARY KEY (id, calculation_time)
);

SELECT create_hypertable(
    'factory_telemetry.oee_calculations',
    by_range('calculation_time', INTERVAL '1 day')
);

-- Index: "OEE trend of one equipment" (equipment detail chart).
CREATE INDEX oee_calculations_equipment_time_idx
    ON factory_telemetry.oee_calculations (equipment_code, calculation_time DESC);

-- ---------------------------------------------------------------------------
-- Daily production KPIs per line (and per shift; shift_id NULL = whole day).
-- Hypertable on kpi_date (a date column), 30 day chunks: a few rows per line per
-- day, kept for years.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.production_kpis (
    id                          bigint      GENERATED ALWAYS AS IDENTITY,
    line_id                     uuid        NOT NULL
        REFERENCES factory_telemetry.production_lines (id) ON DELETE RESTRICT,
    kpi_date                    date        NOT NULL,
    shift_id                    uuid
        REFERENCES factory_telemetry.shifts (id) ON DELETE RESTRICT,
    availability                numeric(6, 4)
        CONSTRAINT production_kpis_availability_check CHECK (availability BETWEEN 0 AND 1),
    performance                 numeric(6, 4)
        CONSTRAINT production_kpis_performance_check CHECK (performance >= 0),
    quality                     numeric(6, 4)
        CONSTRAINT production_kpis_quality_check CHECK (quality BETWEEN 0 AND 1),
    oee                         numeric(6, 4)
        CONSTRAINT production_kpis_oee_check CHECK (oee BETWEEN 0 AND 1),
    total_production            integer     NOT NULL DEFAULT 0
        CONSTRAINT production_kpis_total_production_check CHECK (total_production >= 0),
    good_production             integer     NOT NULL DEFAULT 0
        CONSTRAINT production_kpis_good_production_check CHECK (good_production >= 0),
    scrap_production            integer     NOT NULL DEFAULT 0
        CONSTRAINT production_kpis_scrap_production_check CHECK (scrap_production >= 0),
    planned_downtime_minutes    numeric(10, 2) NOT NULL DEFAULT 0,
    unplanned_downtime_minutes  numeric(10, 2) NOT NULL DEFAULT 0,
    mtbf_minutes                numeric(10, 2),
    mttr_minutes                numeric(10, 2),
    energy_kwh                  numeric(14, 4),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT production_kpis_pkey PRIMARY KEY (id, kpi_date),
    -- one KPI row per line, day and shift (includes the time column)
    CONSTRAINT production_kpis_line_date_shift_key UNIQUE (line_id, kpi_date, shift_id)
);

SELECT create_hypertable(
    'factory_telemetry.production_kpis',
    by_range('kpi_date', INTERVAL '30 days')
);

-- ---------------------------------------------------------------------------
-- Energy consumption per equipment and interval (normally 1 minute).
-- line_id is NULL for utilities that serve the whole plant (compressors, HVAC).
-- Hypertable on consumption_time, 1 day chunks.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.energy_consumption (
    id                  bigint      GENERATED ALWAYS AS IDENTITY,
    equipment_code      text        NOT NULL,
    line_id             uuid
        REFERENCES factory_telemetry.production_lines (id) ON DELETE RESTRICT,
    consumption_time    timestamptz NOT NULL,
    power_kw            numeric(12, 3),
    energy_kwh          numeric(14, 4) NOT NULL
        CONSTRAINT energy_consumption_energy_kwh_check CHECK (energy_kwh >= 0),
    voltage_v           numeric(8, 2),
    current_a           numeric(10, 3),
    power_factor        numeric(4, 3)
        CONSTRAINT energy_consumption_power_factor_check CHECK (power_factor BETWEEN 0 AND 1),
    CONSTRAINT energy_consumption_pkey PRIMARY KEY (id, consumption_time)
);

SELECT create_hypertable(
    'factory_telemetry.energy_consumption',
    by_range('consumption_time', INTERVAL '1 day')
);

-- Index: "energy of one equipment over time" (energy chart per machine).
CREATE INDEX energy_consumption_equipment_time_idx
    ON factory_telemetry.energy_consumption (equipment_code, consumption_time DESC);

-- ---------------------------------------------------------------------------
-- Maintenance work orders.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.maintenance_work_orders (
    id                          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    work_order_number           text        NOT NULL
        CONSTRAINT maintenance_work_orders_number_key UNIQUE,
    equipment_code              text        NOT NULL,
    title                       text        NOT NULL,
    description                 text,
    work_type                   text        NOT NULL
        CONSTRAINT maintenance_work_orders_work_type_check
        CHECK (work_type IN ('preventive', 'corrective', 'predictive', 'emergency')),
    priority                    text        NOT NULL DEFAULT 'medium'
        CONSTRAINT maintenance_work_orders_priority_check
        CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    status                      text        NOT NULL DEFAULT 'open'
        CONSTRAINT maintenance_work_orders_status_check
        CHECK (status IN ('open', 'assigned', 'in_progress', 'on_hold', 'completed', 'cancelled')),
    fault_code                  text,
    assigned_to                 uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    created_by                  uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    due_date                    timestamptz,
    started_at                  timestamptz,
    completed_at                timestamptz,
    estimated_duration_minutes  integer
        CONSTRAINT maintenance_work_orders_estimated_check CHECK (estimated_duration_minutes > 0),
    actual_duration_minutes     integer
        CONSTRAINT maintenance_work_orders_actual_check CHECK (actual_duration_minutes >= 0),
    parts_used                  jsonb       NOT NULL DEFAULT '[]'::jsonb,
    cost                        numeric(12, 2)
        CONSTRAINT maintenance_work_orders_cost_check CHECK (cost >= 0),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- Index: "work orders of one equipment" (equipment history, MTTR per machine).
CREATE INDEX maintenance_work_orders_equipment_idx
    ON factory_telemetry.maintenance_work_orders (equipment_code, created_at DESC);

-- Table descriptions (shown by psql describe commands and catalog tools).
COMMENT ON TABLE factory_telemetry.oee_calculations IS
    'Per-interval OEE components per equipment (hypertable on calculation_time)';
COMMENT ON TABLE factory_telemetry.production_kpis IS
    'Daily KPIs per line and shift; shift_id NULL = whole day (hypertable on kpi_date)';
COMMENT ON TABLE factory_telemetry.energy_consumption IS
    'Energy per equipment and interval (hypertable on consumption_time)';
COMMENT ON TABLE factory_telemetry.maintenance_work_orders IS
    'Maintenance work orders';
