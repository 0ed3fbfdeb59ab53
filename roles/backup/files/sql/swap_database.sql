-- Put the restored database (:"target") in place of the live one (:"source"),
-- which is renamed to :"replaced". Run from database postgres, after the
-- restored copy has been verified. New sessions on the live database are refused
-- first, open ones are ended, then both renames happen in one transaction: either
-- both take effect or neither (ms5-backup allows connections again on failure).
SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS false', :'source')
\gexec
SELECT pg_terminate_backend(pid) IS NOT NULL FROM pg_stat_activity
WHERE datname IN (:'source', :'target') AND pid <> pg_backend_pid();
BEGIN;
SELECT format('ALTER DATABASE %I RENAME TO %I', :'source', :'replaced')
\gexec
SELECT format('ALTER DATABASE %I RENAME TO %I', :'target', :'source')
\gexec
COMMIT;
SELECT format('ALTER DATABASE %I ALLOW_CONNECTIONS true', :'replaced')
\gexec
