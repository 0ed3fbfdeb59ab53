-- Give the restored database (:"target") the database-level owner, grants and
-- settings of the live database (:"source"). pg_dump without --create does
-- not carry these; they are configuration, not data. Run from database postgres.
-- TimescaleDB's restoring flag and this program's own ms5_backup.* settings (the
-- held jobs, see hold_jobs.sql) are not copied.
SELECT format('ALTER DATABASE %I OWNER TO %I', :'target', pg_get_userbyid(datdba))
FROM pg_database WHERE datname = :'source'
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'target')
FROM pg_database WHERE datname = :'source' AND datacl IS NOT NULL
\gexec
SELECT format('GRANT %s ON DATABASE %I TO %s%s', a.privilege_type, :'target',
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
FROM pg_database AS d, aclexplode(d.datacl) AS a
WHERE d.datname = :'source'
\gexec
SELECT CASE WHEN split_part(s.cfg, '=', 1) = 'search_path'
            THEN format('ALTER DATABASE %I SET search_path = %s', :'target', substr(s.cfg, 13))
            ELSE format('ALTER DATABASE %I SET %I = %L', :'target', split_part(s.cfg, '=', 1),
                        substr(s.cfg, length(split_part(s.cfg, '=', 1)) + 2))
       END
FROM pg_database AS d
JOIN pg_db_role_setting AS r ON r.setdatabase = d.oid AND r.setrole = 0,
     unnest(r.setconfig) AS s(cfg)
WHERE d.datname = :'source'
  AND s.cfg NOT LIKE 'timescaledb.restoring=%'
  AND s.cfg NOT LIKE 'ms5\_backup.%'
\gexec
