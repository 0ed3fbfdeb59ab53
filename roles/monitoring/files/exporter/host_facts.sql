-- ms5_host_facts_*: when the host collector (ms5-monitoring-collect) last stored the
-- facts the database cannot see. No row until it has run once.
SELECT extract(epoch FROM f.collected_at) AS collected_timestamp_seconds,
       extract(epoch FROM now() - f.collected_at) AS age_seconds
FROM ms5_monitoring.host_facts AS f
