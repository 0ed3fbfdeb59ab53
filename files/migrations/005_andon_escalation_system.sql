-- 005_andon_escalation_system.sql
-- Purpose : the Andon system: events raised on the shop floor, escalation rules
--           (how long until which level is alerted), escalations raised for an
--           event, the people who receive them, and the notification history.
-- Depends : 001 (schema), 002 (users, production_lines).
-- Notes   : one transaction, owner role. The due-time calculation itself is the
--           function factory_telemetry.andon_escalation_due_at (migration 009).

-- ---------------------------------------------------------------------------
-- Andon events.
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.andon_events (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    line_id             uuid
        REFERENCES factory_telemetry.production_lines (id) ON DELETE RESTRICT,
    equipment_code      text        NOT NULL,
    event_type          text        NOT NULL
        CONSTRAINT andon_events_event_type_check
        CHECK (event_type IN ('stop', 'quality', 'maintenance', 'material', 'safety', 'help')),
    priority            text        NOT NULL DEFAULT 'medium'
        CONSTRAINT andon_events_priority_check
        CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    description         text        NOT NULL,
    status              text        NOT NULL DEFAULT 'open'
        CONSTRAINT andon_events_status_check
        CHECK (status IN ('open', 'acknowledged', 'in_progress', 'escalated', 'resolved', 'cancelled')),
    reported_by         uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    acknowledged_by     uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    acknowledged_at     timestamptz,
    resolved_by         uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    resolved_at         timestamptz,
    resolution_notes    text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT andon_events_ack_after_create CHECK (acknowledged_at >= created_at),
    CONSTRAINT andon_events_resolve_after_create CHECK (resolved_at >= created_at)
);

-- ---------------------------------------------------------------------------
-- Escalation rules: for an event priority, level N is due delay_minutes after
-- the event was created (delays are measured from creation, not cumulative).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.andon_escalation_rules (
    id                      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    priority                text        NOT NULL
        CONSTRAINT andon_escalation_rules_priority_check
        CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    escalation_level        integer     NOT NULL
        CONSTRAINT andon_escalation_rules_level_check CHECK (escalation_level BETWEEN 1 AND 5),
    delay_minutes           integer     NOT NULL
        CONSTRAINT andon_escalation_rules_delay_check CHECK (delay_minutes >= 0),
    notify_roles            text[]      NOT NULL,
    notification_methods    text[]      NOT NULL DEFAULT '{websocket}',
    enabled                 boolean     NOT NULL DEFAULT true,
    created_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT andon_escalation_rules_priority_level_key UNIQUE (priority, escalation_level),
    CONSTRAINT andon_escalation_rules_methods_check
        CHECK (notification_methods <@ ARRAY['email', 'sms', 'push', 'websocket']::text[])
);

-- ---------------------------------------------------------------------------
-- Escalations raised for an event (one per level reached). An escalation has no
-- meaning without its event: CASCADE. A rule in use cannot be deleted (disable it).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.andon_escalations (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    andon_event_id      uuid        NOT NULL
        REFERENCES factory_telemetry.andon_events (id) ON DELETE CASCADE,
    rule_id             uuid
        REFERENCES factory_telemetry.andon_escalation_rules (id) ON DELETE RESTRICT,
    escalation_level    integer     NOT NULL
        CONSTRAINT andon_escalations_level_check CHECK (escalation_level BETWEEN 1 AND 5),
    status              text        NOT NULL DEFAULT 'pending'
        CONSTRAINT andon_escalations_status_check
        CHECK (status IN ('pending', 'notified', 'acknowledged', 'resolved', 'expired')),
    due_at              timestamptz NOT NULL,
    escalated_at        timestamptz,
    acknowledged_by     uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    acknowledged_at     timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Recipients of escalations (people, possibly without an application login).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.andon_escalation_recipients (
    id                      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name                    text        NOT NULL,
    role                    text        NOT NULL,
    user_id                 uuid
        REFERENCES factory_telemetry.users (id) ON DELETE CASCADE,
    email                   text,
    phone                   text,
    notification_methods    text[]      NOT NULL DEFAULT '{email}',
    escalation_levels       integer[]   NOT NULL DEFAULT '{1}',
    line_id                 uuid
        REFERENCES factory_telemetry.production_lines (id) ON DELETE CASCADE,
    enabled                 boolean     NOT NULL DEFAULT true,
    created_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT andon_escalation_recipients_contact_check
        CHECK (email IS NOT NULL OR phone IS NOT NULL OR user_id IS NOT NULL)
);

-- ---------------------------------------------------------------------------
-- Notification history: every action on an escalation and every notification
-- sent (audit trail). Kept with its escalation (CASCADE).
-- ---------------------------------------------------------------------------
CREATE TABLE factory_telemetry.andon_escalation_history (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id       uuid        NOT NULL
        REFERENCES factory_telemetry.andon_escalations (id) ON DELETE CASCADE,
    action              text        NOT NULL
        CONSTRAINT andon_escalation_history_action_check
        CHECK (action IN ('created', 'notified', 'acknowledged', 'escalated', 'resolved',
                          'expired', 'notification_failed')),
    recipient_id        uuid
        REFERENCES factory_telemetry.andon_escalation_recipients (id) ON DELETE SET NULL,
    notification_method text
        CONSTRAINT andon_escalation_history_method_check
        CHECK (notification_method IN ('email', 'sms', 'push', 'websocket')),
    performed_by        uuid
        REFERENCES factory_telemetry.users (id) ON DELETE SET NULL,
    performed_at        timestamptz NOT NULL DEFAULT now(),
    details             jsonb       NOT NULL DEFAULT '{}'::jsonb
);

-- Index: "open Andon events" (Andon board, escalation worker). Partial: resolved
-- and cancelled events are the vast majority and are never polled.
CREATE INDEX andon_events_open_idx
    ON factory_telemetry.andon_events (created_at)
    WHERE status NOT IN ('resolved', 'cancelled');

-- Index: "Andon history of a line" (line detail, Andon reports).
CREATE INDEX andon_events_line_created_idx
    ON factory_telemetry.andon_events (line_id, created_at DESC);

-- Index: "pending escalations that are due" (escalation worker, every few seconds).
CREATE INDEX andon_escalations_due_idx
    ON factory_telemetry.andon_escalations (due_at)
    WHERE status = 'pending';

-- Index: "history of one escalation" (escalation detail; CASCADE from escalations).
CREATE INDEX andon_escalation_history_escalation_idx
    ON factory_telemetry.andon_escalation_history (escalation_id, performed_at);

-- Table descriptions (shown by psql describe commands and catalog tools).
COMMENT ON TABLE factory_telemetry.andon_events IS
    'Andon calls raised on the shop floor';
COMMENT ON TABLE factory_telemetry.andon_escalation_rules IS
    'When each escalation level is due, per Andon priority';
COMMENT ON TABLE factory_telemetry.andon_escalations IS
    'Escalation levels raised for an Andon event';
COMMENT ON TABLE factory_telemetry.andon_escalation_recipients IS
    'People who receive Andon escalations';
COMMENT ON TABLE factory_telemetry.andon_escalation_history IS
    'Notification history and actions on escalations (audit trail)';
