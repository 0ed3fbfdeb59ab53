-- ms5-cutover: client sessions connected to the current database other than this
-- program's own (application_name ms5-cutover) (read-only). One JSON array.
SELECT coalesce(json_agg(json_build_object(
           'pid', a.pid, 'user', a.usename, 'application', a.application_name,
           'client', coalesce(host(a.client_addr), 'local'), 'state', a.state,
           'since', a.backend_start::text) ORDER BY a.pid), '[]')
FROM pg_stat_activity AS a
WHERE a.datname = current_database()
  AND a.backend_type = 'client backend'
  AND a.pid <> pg_backend_pid()
  AND a.application_name <> 'ms5-cutover'
