-- ms5-cutover: what the backend sees when it logs in as itself over its network
-- (read-only). One row: user, server version, TimescaleDB version (or empty).
SELECT json_build_object(
    'user', current_user,
    'server_version', current_setting('server_version'),
    'timescaledb', (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')
)
