-- Run inside the live database after a restored copy was swapped in (or when a
-- restore was interrupted between the swap and this step). Schedules again the jobs
-- that hold_jobs.sql held (the database setting ms5_backup.held_jobs, read at
-- connection), removes the setting and restarts the database's TimescaleDB job
-- scheduler: renaming a database stops its background workers and nothing else
-- starts them again. Output: resumed=<comma-separated job ids>.
WITH resumed AS (
    UPDATE _timescaledb_config.bgw_job SET scheduled = true
    WHERE id = ANY (coalesce(
        string_to_array(nullif(current_setting('ms5_backup.held_jobs', true), ''), ',')::int[],
        '{}'::int[]))
    RETURNING id
)
SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') AS resumed FROM resumed
\gset
SELECT format('ALTER DATABASE %I RESET ms5_backup.held_jobs', current_database())
\gexec
SELECT _timescaledb_functions.restart_background_workers() AS restarted
\gset
SELECT 'resumed=' || :'resumed';
