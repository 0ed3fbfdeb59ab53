-- ms5_backup_*: the newest backup and the newest verified backup, from the backup
-- program (ms5-backup --status) or its manifests, as stored by the collector.
-- Ages are computed at scrape time. NaN when there is no such backup.
SELECT coalesce((b ->> 'count')::int, 0) AS count,
       coalesce((b ->> 'verified_count')::int, 0) AS verified_count,
       extract(epoch FROM (b #>> '{newest,created_at}')::timestamptz) AS newest_timestamp_seconds,
       extract(epoch FROM now() - (b #>> '{newest,created_at}')::timestamptz) AS newest_age_seconds,
       (b #>> '{newest,size_bytes}')::bigint AS newest_size_bytes,
       CASE WHEN b -> 'newest' IS NULL OR jsonb_typeof(b -> 'newest') = 'null' THEN NULL
            WHEN b #>> '{newest,verified,result}' = 'ok' THEN 1
            WHEN b #>> '{newest,verified,result}' IS NULL THEN 0
            ELSE -1 END AS newest_verified,
       extract(epoch FROM now() - (b #>> '{newest_verified,created_at}')::timestamptz) AS newest_verified_age_seconds
FROM ms5_monitoring.host_facts AS f
CROSS JOIN LATERAL (SELECT f.facts -> 'backup' AS b) AS x
