-- 007_plc_integration_phase1.sql
-- Purpose : phase 1 of the PLC integration: ties the telemetry tables of 001 to
--           the plant model of 002-003 (equipment context knows its line, the
--           running job and product), records the state of every PLC connection,
--           and lets metric definitions name the OEE role they play.
-- Depends : 001 (context, metric_def), 002 (equipment_config, production_lines),
--           003 (job_assignments, product_types).
-- Notes   : one transaction, owner role.

-- ---------------------------------------------------------------------------
-- Equipment context: production context for the OEE calculator and Andon.
-- The context row describes the present: when the job, product or line it
-- points at is deleted, the context forgets it (SET NULL).
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.context
    ADD COLUMN production_line_id uuid
        REFERENCES factory_telemetry.production_lines (id) ON DELETE SET NULL,
    ADD COLUMN current_job_id uuid
        REFERENCES factory_telemetry.job_assignments (id) ON DELETE SET NULL,
    ADD COLUMN current_product_type_id uuid
        REFERENCES factory_telemetry.product_types (id) ON DELETE SET NULL,
    ADD COLUMN production_state text NOT NULL DEFAULT 'idle'
        CONSTRAINT context_production_state_check
        CHECK (production_state IN ('idle', 'setup', 'running', 'stopped', 'fault', 'maintenance'));

-- ---------------------------------------------------------------------------
-- Metric definitions: which OEE input a metric is (counters, running bit...).
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.metric_def
    ADD COLUMN oee_role text
        CONSTRAINT metric_def_oee_role_check
        CHECK (oee_role IN ('total_count', 'good_count', 'reject_count', 'running',
                            'speed', 'fault_word', 'energy'));

-- ---------------------------------------------------------------------------
-- Equipment configuration: polling parameters of the PLC.
-- ---------------------------------------------------------------------------
ALTER TABLE factory_telemetry.equipment_config
    ADD COLUMN plc_port integer
        CONSTRAINT equipment_config_plc_port_check CHECK (plc_port BETWEEN 1 AND 65535),
    ADD COLUMN plc_slot integer
        CONSTRAINT equipment_config_plc_slot_check CHECK (plc_slot BETWEEN 0 AND 31),
    ADD COLUMN poll_interval_ms integer NOT NULL DEFAULT 1000
        CONSTRAINT equipment_config_poll_interval_check CHECK (poll_interval_ms BETWEEN 100 AND 60000);

-- ---------------------------------------------------------------------------
-- PLC connection state, one row per configured equipment (upserted by the
-- poller). Follows its equipment's configuration: CASCADE.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.plc_connections (
    equipment_code          text        PRIMARY KEY
        REFERENCES factory_telemetry.equipment_config (equipment_code)
        ON DELETE CASCADE ON UPDATE CASCADE,
    status                  text        NOT NULL DEFAULT 'disconnected'
        CONSTRAINT plc_connections_status_check
        CHECK (status IN ('connected', 'disconnected', 'error')),
    last_connected_at       timestamptz,
    last_poll_at            timestamptz,
    last_error              text,
    consecutive_failures    integer     NOT NULL DEFAULT 0
        CONSTRAINT plc_connections_failures_check CHECK (consecutive_failures >= 0),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- No new indexes: the OEE calculator's "metric of role R on machine X" lookup
-- uses metric_def's (equipment_code, metric_key) key for the machine (a few
-- dozen metrics each), and context / plc_connections hold one row per machine.

-- View: PLC connection health per equipment, for the maintenance dashboard.
CREATE VIEW factory_telemetry.v_plc_connection_health AS
SELECT
    e.equipment_code,
    e.name,
    e.production_line_id,
    e.plc_type,
    e.plc_ip_address,
    e.poll_interval_ms,
    COALESCE(c.status, 'disconnected') AS status,
    c.last_connected_at,
    c.last_poll_at,
    c.last_error,
    COALESCE(c.consecutive_failures, 0) AS consecutive_failures,
    now() - c.last_poll_at AS poll_age
FROM factory_telemetry.equipment_config AS e
LEFT JOIN factory_telemetry.plc_connections AS c ON c.equipment_code = e.equipment_code
WHERE e.enabled;

COMMENT ON VIEW factory_telemetry.v_plc_connection_health IS
    'Dashboard: PLC connection state of every enabled equipment';

-- Table descriptions (shown by psql describe commands and catalog tools).
COMMENT ON TABLE factory_telemetry.plc_connections IS
    'State of each PLC connection, upserted by the poller';
