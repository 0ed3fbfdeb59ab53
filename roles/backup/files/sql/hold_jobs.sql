-- Run inside a restored copy after pg_restore and before timescaledb_post_restore()
-- (the copy's job scheduler is stopped then). Unschedules every scheduled TimescaleDB
-- job of the copy (retention, compression, continuous aggregates, TimescaleDB's own)
-- and records which ones as the copy's database setting ms5_backup.held_jobs, so that
-- no job can drop or change data while the copy is compared with the manifest and
-- swapped in; resume_jobs.sql schedules exactly these again afterwards. Jobs that were
-- unscheduled in the backup stay unscheduled. The same catalog column alter_job()
-- writes, on both editions (alter_job() is not available on the Apache edition, nor
-- while timescaledb.restoring is on). Output: held=<comma-separated job ids>.
WITH held AS (
    UPDATE _timescaledb_config.bgw_job SET scheduled = false
    WHERE scheduled
    RETURNING id
)
SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') AS held FROM held
\gset
SELECT format('ALTER DATABASE %I SET ms5_backup.held_jobs = %L', current_database(), :'held')
\gexec
SELECT 'held=' || :'held';
