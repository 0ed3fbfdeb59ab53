-- ms5_timescaledb_job_*: every TimescaleDB job (policies of the Community edition and
-- TimescaleDB's own jobs) with its last run and consecutive failures. Job statistics
-- come from timescaledb_information.job_stats; consecutive failures from
-- _timescaledb_internal.bgw_job_stat (readable by every role, as job_stats itself).
-- On the Apache edition TimescaleDB's own jobs (ids below 1000, e.g. job 3, the job
-- history retention) fail every run with a license error: those rows carry
-- expected_failure="true". The collection's own jobs (policies, ids from 1000) never do.
SELECT j.job_id::text AS job_id,
       j.proc_schema || '.' || j.proc_name AS proc,
       coalesce(j.hypertable_schema || '.' || j.hypertable_name, '') AS hypertable,
       CASE WHEN current_setting('timescaledb.license', true) = 'apache' AND j.job_id < 1000
            THEN 'true' ELSE 'false' END AS expected_failure,
       j.scheduled::int AS scheduled,
       CASE s.last_run_status WHEN 'Success' THEN 1 WHEN 'Failed' THEN 0 END AS last_run_success,
       coalesce(b.consecutive_failures, 0) AS consecutive_failures,
       coalesce(s.total_runs, 0) AS runs_total,
       coalesce(s.total_failures, 0) AS failures_total,
       extract(epoch FROM CASE WHEN isfinite(s.last_successful_finish) THEN s.last_successful_finish END)
         AS last_success_timestamp_seconds
FROM timescaledb_information.jobs AS j
LEFT JOIN timescaledb_information.job_stats AS s ON s.job_id = j.job_id
LEFT JOIN _timescaledb_internal.bgw_job_stat AS b ON b.job_id = j.job_id
