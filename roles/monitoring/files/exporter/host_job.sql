-- ms5_host_job_*: the collection's host jobs (backup, retention, rollups, ...) from
-- their status files /var/lib/ms5/status/<job>.json, as stored by the collector.
-- A job that is expected but has no status file yet has status_present 0; its
-- last_success_age_seconds then counts from when the collector first expected it.
SELECT j ->> 'job' AS job,
       (j ->> 'present')::boolean::int AS status_present,
       ((j ->> 'ok')::boolean)::int AS last_run_ok,
       (j ->> 'exit_code')::int AS last_exit_code,
       coalesce((j ->> 'consecutive_failures')::int, 0) AS consecutive_failures,
       extract(epoch FROM (j ->> 'finished_at')::timestamptz) AS last_run_timestamp_seconds,
       extract(epoch FROM (j ->> 'last_success_at')::timestamptz) AS last_success_timestamp_seconds,
       extract(epoch FROM now() - coalesce((j ->> 'last_success_at')::timestamptz,
                                           (j ->> 'expected_since')::timestamptz)) AS last_success_age_seconds
FROM ms5_monitoring.host_facts AS f
CROSS JOIN LATERAL jsonb_array_elements(f.facts -> 'jobs') AS j
