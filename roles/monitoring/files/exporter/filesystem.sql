-- ms5_filesystem_*: size and free bytes of the filesystems that hold the database's
-- data volume (volume="data") and the backups directory (volume="backups"), measured
-- on the host by the collector (statvfs). avail_bytes is what non-root writers (the
-- database server) can still use.
SELECT fs ->> 'volume' AS volume,
       fs ->> 'path' AS path,
       (fs ->> 'size_bytes')::bigint AS size_bytes,
       (fs ->> 'free_bytes')::bigint AS free_bytes,
       (fs ->> 'avail_bytes')::bigint AS avail_bytes
FROM ms5_monitoring.host_facts AS f
CROSS JOIN LATERAL jsonb_array_elements(f.facts -> 'filesystems') AS fs
WHERE fs ->> 'size_bytes' IS NOT NULL
