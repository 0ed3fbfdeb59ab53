-- ms5-cutover: what the legacy server and database are (read-only). One JSON object.
-- Never returns a password or verifier: only whether the connecting role has one and
-- of which kind (scram-sha-256 or md5).
SELECT json_build_object(
    'server_version', current_setting('server_version'),
    'server_version_num', current_setting('server_version_num')::int,
    'major', current_setting('server_version_num')::int / 10000,
    'database', current_database(),
    'user', current_user,
    'superuser', (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
    'password_kind', (SELECT CASE WHEN rolpassword IS NULL THEN 'none'
                                  WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'
                                  WHEN rolpassword LIKE 'md5%' THEN 'md5'
                                  ELSE 'unknown' END
                      FROM pg_authid WHERE rolname = current_user),
    'size_bytes', pg_database_size(current_database()),
    'encoding', pg_encoding_to_char((SELECT encoding FROM pg_database WHERE datname = current_database())),
    'collate', (SELECT datcollate FROM pg_database WHERE datname = current_database()),
    'ctype', (SELECT datctype FROM pg_database WHERE datname = current_database()),
    'extensions', (SELECT coalesce(json_agg(json_build_object('name', extname, 'version', extversion) ORDER BY extname), '[]')
                   FROM pg_extension),
    'timescaledb', (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
    'postmaster_start', pg_postmaster_start_time()::text
)
