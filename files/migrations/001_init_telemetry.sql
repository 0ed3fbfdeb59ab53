-- 001_init_telemetry.sql
-- Purpose : the telemetry core of the MS5.0 schema: PLC metric definitions and
--           their PLC bindings, latest value per metric, metric history (hypertable),
--           the fault catalog, active faults, fault events (hypertable) and the
--           per-equipment context the PLC poller keeps current.
-- Depends : the timescaledb extension, created beforehand by the superuser (the
--           timescaledb role). Runs as the database owner role, in one transaction.
-- Notes   : no BEGIN/COMMIT here: the migrations role wraps each file in a single
--           transaction together with its ledger row. Compression and retention are
--           NOT set here (the timescaledb_policies role owns them).
--           equipment_code is a plain text key in the telemetry tables, with no
--           foreign key to equipment_config (002) on purpose: the PLC poller must
--           be able to record a machine's data before anyone configures it.

CREATE SCHEMA IF NOT EXISTS factory_telemetry;

COMMENT ON SCHEMA factory_telemetry IS
    'MS5.0 factory telemetry and production data (managed by ms5.factory_telemetry migrations)';

-- ---------------------------------------------------------------------------
-- Metric definitions: one row per (equipment, metric) the PLC poller reads.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.metric_def (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    equipment_code  text        NOT NULL,
    metric_key      text        NOT NULL,
    value_type      text        NOT NULL
        CONSTRAINT metric_def_value_type_check
        CHECK (value_type IN ('BOOL', 'INT', 'REAL', 'TEXT', 'JSON')),
    unit            text,
    description     text,
    enabled         boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT metric_def_equipment_metric_key UNIQUE (equipment_code, metric_key),
    CONSTRAINT metric_def_metric_key_not_blank CHECK (btrim(metric_key) <> ''),
    CONSTRAINT metric_def_equipment_code_not_blank CHECK (btrim(equipment_code) <> '')
);

COMMENT ON TABLE factory_telemetry.metric_def IS
    'PLC metric definitions; disable (enabled=false) rather than delete a metric that has history';

-- ---------------------------------------------------------------------------
-- Metric bindings: where in the PLC a metric is read from.
-- A binding has no meaning without its metric: ON DELETE CASCADE.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.metric_binding (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric_def_id   bigint      NOT NULL
        REFERENCES factory_telemetry.metric_def (id) ON DELETE CASCADE,
    plc_kind        text        NOT NULL
        CONSTRAINT metric_binding_plc_kind_check
        CHECK (plc_kind IN ('LOGIX', 'SLC', 'MODBUS', 'OPCUA')),
    address         text        NOT NULL,
    bit_index       integer
        CONSTRAINT metric_binding_bit_index_check CHECK (bit_index BETWEEN 0 AND 63),
    scale_factor    double precision NOT NULL DEFAULT 1.0,
    poll_group      text        NOT NULL DEFAULT 'default',
    -- one binding per metric: the poller resolves a metric to exactly one tag
    CONSTRAINT metric_binding_one_per_metric UNIQUE (metric_def_id)
);

-- ---------------------------------------------------------------------------
-- Latest value per metric (upserted by the poller; read by every live screen).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.metric_latest (
    metric_def_id   bigint      PRIMARY KEY
        REFERENCES factory_telemetry.metric_def (id) ON DELETE CASCADE,
    ts              timestamptz NOT NULL,
    value_bool      boolean,
    value_int       bigint,
    value_real      double precision,
    value_text      text,
    value_json      jsonb
);

-- ---------------------------------------------------------------------------
-- Metric history: 1-second samples. Hypertable on ts, 1 hour chunks.
-- The primary key (metric_def_id, ts) rejects duplicate samples (the poller
-- inserts with ON CONFLICT DO NOTHING) and serves "one metric over a time range";
-- create_hypertable adds the (ts DESC) index for "everything in a time range".
-- ON DELETE RESTRICT: a metric that has history must be disabled, not deleted.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.metric_hist (
    metric_def_id   bigint      NOT NULL
        REFERENCES factory_telemetry.metric_def (id) ON DELETE RESTRICT,
    ts              timestamptz NOT NULL,
    value_bool      boolean,
    value_int       bigint,
    value_real      double precision,
    value_text      text,
    value_json      jsonb,
    CONSTRAINT metric_hist_pkey PRIMARY KEY (metric_def_id, ts)
);

SELECT create_hypertable(
    'factory_telemetry.metric_hist',
    by_range('ts', INTERVAL '1 hour')
);

-- ---------------------------------------------------------------------------
-- Fault catalog: what each fault bit of an equipment means.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.fault_catalog (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    equipment_code  text        NOT NULL,
    bit_index       integer     NOT NULL
        CONSTRAINT fault_catalog_bit_index_check CHECK (bit_index BETWEEN 0 AND 1023),
    fault_code      text        NOT NULL,
    description     text        NOT NULL,
    severity        text        NOT NULL DEFAULT 'fault'
        CONSTRAINT fault_catalog_severity_check
        CHECK (severity IN ('info', 'warning', 'fault', 'critical')),
    -- the poller maps (equipment, bit) to a fault: must be unique
    CONSTRAINT fault_catalog_equipment_bit UNIQUE (equipment_code, bit_index)
);

-- ---------------------------------------------------------------------------
-- Active faults: one row per fault bit currently set.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.fault_active (
    equipment_code  text        NOT NULL,
    bit_index       integer     NOT NULL,
    ts_on           timestamptz NOT NULL,
    CONSTRAINT fault_active_pkey PRIMARY KEY (equipment_code, bit_index),
    CONSTRAINT fault_active_catalog_fk FOREIGN KEY (equipment_code, bit_index)
        REFERENCES factory_telemetry.fault_catalog (equipment_code, bit_index)
        ON DELETE CASCADE
);

-- ---------------------------------------------------------------------------
-- Fault events: every fault occurrence (irregular). Hypertable on ts_on, 7 day
-- chunks. The PK includes the time column, as TimescaleDB requires.
-- The catalog row may be retired later: the event keeps its own copy of the
-- equipment/bit and the FK is not declared (history outlives the catalog).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.fault_event (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    equipment_code  text        NOT NULL,
    bit_index       integer     NOT NULL,
    ts_on           timestamptz NOT NULL,
    ts_off          timestamptz,
    duration_s      double precision,
    CONSTRAINT fault_event_pkey PRIMARY KEY (id, ts_on)
);

SELECT create_hypertable(
    'factory_telemetry.fault_event',
    by_range('ts_on', INTERVAL '7 days')
);

-- ---------------------------------------------------------------------------
-- Equipment context: what each machine is doing right now (operator, shift,
-- planned stop). One row per equipment, upserted by the backend.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.context (
    equipment_code      text        PRIMARY KEY,
    current_operator    text,
    current_shift       text,
    planned_stop        boolean     NOT NULL DEFAULT false,
    planned_stop_reason text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Index: "faults of one equipment over time" (fault history screen, Pareto per
-- machine). The hypertable's own (ts_on DESC) index cannot filter by equipment.
CREATE INDEX fault_event_equipment_ts_on_idx
    ON factory_telemetry.fault_event (equipment_code, ts_on DESC);

-- Index: "faults still open" (ts_off IS NULL) for the poller, which closes the
-- open event of a bit when it clears. Partial: only open events are indexed.
CREATE INDEX fault_event_open_idx
    ON factory_telemetry.fault_event (equipment_code, bit_index)
    WHERE ts_off IS NULL;

-- Index: live screens read all latest values of one equipment: join on
-- metric_def filtered by equipment_code (covered by the UNIQUE key's leading
-- column), so no extra index on metric_def is needed here.

-- View: latest value of every enabled metric, with its definition.
CREATE VIEW factory_telemetry.v_equipment_latest_values AS
SELECT
    d.equipment_code,
    d.metric_key,
    d.value_type,
    d.unit,
    l.ts,
    l.value_bool,
    l.value_int,
    l.value_real,
    l.value_text,
    l.value_json,
    now() - l.ts AS age
FROM factory_telemetry.metric_def AS d
JOIN factory_telemetry.metric_latest AS l ON l.metric_def_id = d.id
WHERE d.enabled;

COMMENT ON VIEW factory_telemetry.v_equipment_latest_values IS
    'Dashboard: latest value per enabled metric, with age of the sample';

-- Table descriptions (shown by psql describe commands and catalog tools).
COMMENT ON TABLE factory_telemetry.metric_binding IS
    'Where in the PLC each metric is read (one binding per metric)';
COMMENT ON TABLE factory_telemetry.metric_latest IS
    'Latest sample per metric, upserted by the PLC poller';
COMMENT ON TABLE factory_telemetry.metric_hist IS
    'Metric history, 1-second samples (hypertable on ts)';
COMMENT ON TABLE factory_telemetry.fault_catalog IS
    'Meaning of each fault bit of an equipment';
COMMENT ON TABLE factory_telemetry.fault_active IS
    'Fault bits currently set, one row per (equipment, bit)';
COMMENT ON TABLE factory_telemetry.fault_event IS
    'Every fault occurrence with its on/off time (hypertable on ts_on)';
COMMENT ON TABLE factory_telemetry.context IS
    'What each equipment is doing now: operator, shift, planned stop';
