-- rollups_base.sql: the schema, catalog and refresh machinery of the rollups role
-- (ms5.factory_telemetry.rollups). Run by the role's module as the owner role, in
-- the same transaction as the rollups' own DDL; every statement is idempotent
-- (IF NOT EXISTS / OR REPLACE), so a changed file is simply applied again.
-- Both editions get the same objects; on the Community edition the rollups are
-- continuous aggregates and the refresh procedure has nothing to do.

CREATE SCHEMA IF NOT EXISTS ms5_rollups;

-- One row per rollup the role manages. Readers: dashboards (through the trend
-- functions), verify.yml (sizes), monitoring (refresh lag), the refresher.
CREATE TABLE IF NOT EXISTS ms5_rollups.catalog (
    relation                 text        PRIMARY KEY,   -- what dashboards query, schema-qualified
    source_table             text        NOT NULL,      -- computed from: a hypertable or another rollup
    raw_table                text        NOT NULL,      -- the hypertable at the bottom of the hierarchy
    time_column              text        NOT NULL,      -- time column of source_table
    bucket                   interval    NOT NULL,
    group_by                 text[]      NOT NULL,
    aggregates               jsonb       NOT NULL,      -- [{name, fn, column, type}]
    kind                     text        NOT NULL
        CONSTRAINT catalog_kind_check CHECK (kind IN ('table', 'continuous_aggregate')),
    edition                  text        NOT NULL,      -- timescaledb.license when it was built
    level                    integer     NOT NULL,      -- 0: built on a raw hypertable
    storage_relation         text        NOT NULL,      -- the hypertable that holds the rows
    source_storage           text        NOT NULL,      -- the relation the refresh reads
    source_time_column       text        NOT NULL,      -- its time column
    materialize_function     text,                      -- kind table: (from, to) -> rows written
    refresh_lag              interval    NOT NULL,      -- late rows up to this old are picked up
    refresh_interval         interval    NOT NULL,      -- how often it is refreshed
    retention                interval,                  -- NULL: kept for ever
    compress_after           interval,                  -- NULL: not compressed
    trend_function           text,
    definition_hash          text        NOT NULL,
    watermark                timestamptz,               -- kind table: buckets before it are materialized
    built_from               timestamptz,               -- kind table: oldest bucket materialized (NULL: none yet)
    last_refresh_started_at  timestamptz,
    last_refresh_finished_at timestamptz,
    last_refresh_window      tstzrange,
    last_refresh_rows        bigint,
    last_refresh_seconds     double precision,
    last_refresh_status      text,
    last_refresh_error       text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

-- columns added after the first release of the catalog
ALTER TABLE ms5_rollups.catalog ADD COLUMN IF NOT EXISTS built_from timestamptz;

COMMENT ON TABLE ms5_rollups.catalog IS
    'Rollups managed by the ms5.factory_telemetry.rollups role (one row each); see docs/CONVENTIONS.md';

-- End of the materialized range of a table-kind rollup: rows of buckets before it
-- come from the rollup's table, later ones are aggregated from the source at query
-- time (real-time aggregation, as continuous aggregates do). -infinity before the
-- first refresh.
-- Declared IMMUTABLE on purpose, like TimescaleDB's own constified cagg watermark:
-- the planner folds it into a constant, so both branches of a rollup's view get
-- plan-time chunk exclusion (with a STABLE function every chunk of the raw table is
-- planned on every query). A plan cached across a refresh holds an older watermark,
-- which is still correct: the watermark only moves forward, the rows between the old
-- and the new one are then aggregated from the source instead of read from the
-- table, with the same result. A rebuild drops and recreates the view, which
-- invalidates cached plans.
CREATE OR REPLACE FUNCTION ms5_rollups.watermark(p_relation text)
RETURNS timestamptz
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    RETURN COALESCE(
        (SELECT c.watermark FROM ms5_rollups.catalog AS c WHERE c.relation = p_relation),
        '-infinity'::timestamptz);
END;
$$;

COMMENT ON FUNCTION ms5_rollups.watermark(text) IS
    'Materialized up to (exclusive) for a table-kind rollup; -infinity before its first refresh';

-- Bring table-kind rollups up to date (the Apache edition's host timer calls it).
-- Per rollup, in hierarchy order, only when due (last refresh + refresh_interval)
-- unless p_force:
--   window = [bucket(watermark - refresh_lag), bucket(now()))   -- buckets that can still change
--            (until something is materialized (built_from NULL): from the oldest source
--             row, so history loaded later, e.g. by a cutover, is built on the next run;
--             while the source is empty the watermark just follows now(), so queries
--             aggregate only what arrived since; a rollup built on another rollup stops
--             at that rollup's watermark; never older than retention)
--   the window is rewritten in batches of 1440 buckets, each committed with the
--   new watermark, so an interrupted first build resumes where it stopped.
-- A first build or a repair is followed by ANALYZE of the rollup's hypertable.
-- Then chunks older than the rollup's retention are dropped. A failing rollup is
-- reported and the others still run. p_from/p_to: rewrite exactly that window
-- (a repair after a backfill older than the lag), never older than the source's
-- oldest row. Returns a JSON array, one object per rollup.
CREATE OR REPLACE PROCEDURE ms5_rollups.refresh(
    IN p_relations text[] DEFAULT NULL,
    IN p_force boolean DEFAULT false,
    IN p_from timestamptz DEFAULT NULL,
    IN p_to timestamptz DEFAULT NULL,
    INOUT p_result jsonb DEFAULT NULL
)
LANGUAGE plpgsql
AS $$
DECLARE
    r           record;
    v_started   timestamptz;
    v_lo        timestamptz;
    v_hi        timestamptz;
    v_batch_hi  timestamptz;
    v_win_lo    timestamptz;
    v_oldest    timestamptz;
    v_src_wm    timestamptz;
    v_own_wm    timestamptz;
    v_built     timestamptz;
    v_locked    boolean := false;
    v_rows      bigint;
    v_total     bigint;
    v_dropped   integer;
    v_status    text;
    v_error     text;
    v_items     jsonb := '[]'::jsonb;
BEGIN
    IF (p_from IS NULL) <> (p_to IS NULL) OR p_from >= p_to THEN
        RAISE EXCEPTION 'ms5_rollups.refresh: give both p_from and p_to (p_from < p_to) or neither';
    END IF;
    FOR r IN
        SELECT c.relation, c.level, c.bucket, c.refresh_lag, c.refresh_interval, c.retention,
               c.source_table, c.storage_relation, c.source_storage, c.source_time_column,
               c.materialize_function, c.last_refresh_finished_at
        FROM ms5_rollups.catalog AS c
        WHERE c.kind = 'table'
          AND (p_relations IS NULL OR c.relation = ANY (p_relations))
        ORDER BY c.level, c.relation
    LOOP
        v_started := clock_timestamp();
        v_locked := false;
        v_own_wm := NULL;
        v_built := NULL;
        v_total := 0;
        v_dropped := 0;
        v_error := NULL;
        v_lo := NULL;
        v_hi := NULL;
        IF NOT p_force AND p_from IS NULL AND r.last_refresh_finished_at IS NOT NULL
           AND r.last_refresh_finished_at + r.refresh_interval > now() + INTERVAL '30 seconds' THEN
            v_items := v_items || jsonb_build_object('relation', r.relation, 'status', 'not due',
                'next_due', r.last_refresh_finished_at + r.refresh_interval);
            CONTINUE;
        END IF;
        v_status := 'refreshed';
        BEGIN
            -- a session lock: held across the batches' commits, released below
            v_locked := pg_try_advisory_lock(hashtext('ms5_rollups.refresh'), hashtext(r.relation));
            IF NOT v_locked THEN
                v_status := 'busy';
            ELSE
                SELECT c.watermark, c.built_from INTO v_own_wm, v_built
                FROM ms5_rollups.catalog AS c WHERE c.relation = r.relation;
                -- the oldest source row: only before anything is materialized or for a
                -- repair window (a min() over every chunk of a long raw table is not free)
                IF p_from IS NOT NULL OR v_built IS NULL THEN
                    EXECUTE format('SELECT min(%I) FROM %s', r.source_time_column, r.source_storage) INTO v_oldest;
                ELSE
                    v_oldest := v_built;
                END IF;
                IF p_from IS NOT NULL THEN
                    v_lo := GREATEST(time_bucket(r.bucket, p_from), time_bucket(r.bucket, v_oldest));
                    v_hi := time_bucket(r.bucket, p_to - INTERVAL '1 microsecond') + r.bucket;
                ELSE
                    v_hi := time_bucket(r.bucket, now());
                    IF r.level > 0 THEN
                        SELECT c.watermark INTO v_src_wm FROM ms5_rollups.catalog AS c
                        WHERE c.relation = r.source_table;
                        v_hi := LEAST(v_hi, time_bucket(r.bucket, COALESCE(v_src_wm, '-infinity')));
                    END IF;
                    IF v_built IS NULL THEN
                        v_lo := time_bucket(r.bucket, v_oldest);
                    ELSE
                        v_lo := time_bucket(r.bucket, v_own_wm - r.refresh_lag);
                    END IF;
                END IF;
                IF r.retention IS NOT NULL THEN
                    v_lo := GREATEST(v_lo, time_bucket(r.bucket, now() - r.retention));
                END IF;
                IF v_oldest IS NULL THEN
                    v_status := 'source empty';
                ELSIF v_lo IS NULL OR v_lo >= v_hi THEN
                    v_status := 'up to date';
                END IF;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            v_status := 'failed';
            v_error := SQLERRM;
        END;
        v_win_lo := v_lo;
        -- Rewrite the window batch by batch; each batch commits with its watermark.
        WHILE v_status = 'refreshed' AND v_lo < v_hi LOOP
            v_batch_hi := LEAST(v_hi, v_lo + r.bucket * 1440);
            BEGIN
                EXECUTE format('SELECT %s($1, $2)', r.materialize_function) INTO v_rows USING v_lo, v_batch_hi;
                v_total := v_total + v_rows;
                UPDATE ms5_rollups.catalog AS c
                SET watermark = CASE WHEN p_from IS NULL THEN GREATEST(COALESCE(c.watermark, v_batch_hi), v_batch_hi)
                                     ELSE c.watermark END,
                    built_from = LEAST(COALESCE(c.built_from, v_lo), v_lo)
                WHERE c.relation = r.relation;
            EXCEPTION WHEN OTHERS THEN
                v_status := 'failed';
                v_error := SQLERRM;
            END;
            COMMIT;
            v_lo := v_batch_hi;
        END LOOP;
        -- planner statistics after a first build or a repair (dashboards plan with them)
        IF v_status = 'refreshed' AND v_total > 0 AND (v_built IS NULL OR p_from IS NOT NULL) THEN
            BEGIN
                EXECUTE format('ANALYZE %s', r.storage_relation);
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'ms5_rollups.refresh: ANALYZE %: %', r.storage_relation, SQLERRM;
            END;
        END IF;
        IF v_status <> 'failed' AND r.retention IS NOT NULL THEN
            BEGIN
                SELECT count(*) INTO v_dropped
                FROM drop_chunks(r.storage_relation::regclass, older_than => r.retention);
            EXCEPTION WHEN OTHERS THEN
                v_status := 'failed';
                v_error := 'retention: ' || SQLERRM;
            END;
        END IF;
        -- 'busy' (another session refreshes it right now) leaves the last refresh alone
        UPDATE ms5_rollups.catalog AS c
        SET last_refresh_started_at = v_started,
            last_refresh_finished_at = clock_timestamp(),
            last_refresh_window = CASE WHEN v_status = 'refreshed'
                                       THEN tstzrange(v_win_lo, v_hi, '[)')
                                       ELSE c.last_refresh_window END,
            last_refresh_rows = v_total,
            last_refresh_seconds = EXTRACT(EPOCH FROM clock_timestamp() - v_started),
            last_refresh_status = v_status,
            last_refresh_error = v_error,
            -- nothing to build yet: the real-time part starts now (see above)
            watermark = CASE WHEN v_status = 'source empty' AND p_from IS NULL AND v_hi IS NOT NULL
                             THEN GREATEST(COALESCE(c.watermark, v_hi), v_hi) ELSE c.watermark END
        WHERE c.relation = r.relation AND v_status <> 'busy';
        COMMIT;
        IF v_locked THEN
            PERFORM pg_advisory_unlock(hashtext('ms5_rollups.refresh'), hashtext(r.relation));
            v_locked := false;
        END IF;
        v_items := v_items || jsonb_build_object(
            'relation', r.relation, 'status', v_status, 'rows', v_total,
            'seconds', round(EXTRACT(EPOCH FROM clock_timestamp() - v_started)::numeric, 3),
            'window', CASE WHEN v_status IN ('refreshed', 'failed') AND v_win_lo < v_hi
                           THEN jsonb_build_array(v_win_lo, v_hi) END, 'dropped_chunks', v_dropped, 'error', v_error,
            'watermark', (SELECT c.watermark FROM ms5_rollups.catalog AS c WHERE c.relation = r.relation));
    END LOOP;
    p_result := v_items;
END;
$$;

COMMENT ON PROCEDURE ms5_rollups.refresh(text[], boolean, timestamptz, timestamptz, jsonb) IS
    'Refresh table-kind rollups incrementally (watermark - lag .. now), drop chunks past retention; JSON result';
