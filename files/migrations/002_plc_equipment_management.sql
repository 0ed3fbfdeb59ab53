-- 002_plc_equipment_management.sql
-- Purpose : people and plant structure: users and their roles, production lines,
--           and the configuration of each equipment / PLC.
-- Depends : 001 (schema factory_telemetry).
-- Notes   : runs as the database owner role in one transaction; no role names are
--           hard-coded (privileges come from default privileges set by the
--           timescaledb role). UUIDs use core gen_random_uuid() (PostgreSQL 13+).

-- ---------------------------------------------------------------------------
-- Users of the MS5.0 application (operators, managers, maintenance...).
-- Authentication is done by the application; password_hash is its hash.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.users (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    username        text        NOT NULL
        CONSTRAINT users_username_key UNIQUE,
    email           text,
    password_hash   text,
    first_name      text,
    last_name       text,
    employee_id     text
        CONSTRAINT users_employee_id_key UNIQUE,
    role            text        NOT NULL DEFAULT 'operator'
        CONSTRAINT users_role_check
        CHECK (role IN ('admin', 'production_manager', 'shift_manager', 'engineer',
                        'operator', 'maintenance', 'quality', 'viewer')),
    department      text,
    shift           text,
    skills          text[]      NOT NULL DEFAULT '{}',
    is_active       boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_not_blank CHECK (btrim(username) <> '')
);

-- ---------------------------------------------------------------------------
-- Production lines.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.production_lines (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    line_code       text        NOT NULL
        CONSTRAINT production_lines_line_code_key UNIQUE,
    name            text        NOT NULL,
    description     text,
    target_speed    numeric(10, 2)
        CONSTRAINT production_lines_target_speed_check CHECK (target_speed > 0),
    enabled         boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Equipment / PLC configuration. equipment_code is the key the telemetry tables
-- (metric_def, fault_catalog, context) use. An equipment may be moved between
-- lines or be unassigned; deleting a line must not delete the machine's config:
-- ON DELETE SET NULL.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.equipment_config (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    equipment_code      text        NOT NULL
        CONSTRAINT equipment_config_equipment_code_key UNIQUE,
    name                text        NOT NULL,
    equipment_type      text        NOT NULL DEFAULT 'machine'
        CONSTRAINT equipment_config_equipment_type_check
        CHECK (equipment_type IN ('machine', 'conveyor', 'filler', 'labeler', 'packer',
                                  'palletizer', 'inspection', 'utility', 'other')),
    production_line_id  uuid
        REFERENCES factory_telemetry.production_lines (id) ON DELETE SET NULL,
    plc_type            text
        CONSTRAINT equipment_config_plc_type_check
        CHECK (plc_type IN ('LOGIX', 'SLC', 'MODBUS', 'OPCUA')),
    plc_ip_address      inet,
    ideal_cycle_time    numeric(10, 3)
        CONSTRAINT equipment_config_ideal_cycle_time_check CHECK (ideal_cycle_time > 0),
    target_speed        numeric(10, 2)
        CONSTRAINT equipment_config_target_speed_check CHECK (target_speed > 0),
    oee_targets         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    fault_thresholds    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    andon_settings      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    enabled             boolean     NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- No secondary indexes here: users, lines and equipment are configuration
-- tables of tens to hundreds of rows; lookups by code/name use their UNIQUE keys
-- and everything else is cheaper as a sequential scan than as index upkeep.

-- Table descriptions (shown by psql describe commands and catalog tools).
COMMENT ON TABLE factory_telemetry.users IS
    'MS5.0 application users and their role; deactivate (is_active=false) rather than delete';
COMMENT ON TABLE factory_telemetry.production_lines IS
    'Production lines; retire with enabled=false (history refers to them)';
COMMENT ON TABLE factory_telemetry.equipment_config IS
    'Equipment and PLC configuration, keyed by equipment_code';
