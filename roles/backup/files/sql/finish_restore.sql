-- Run inside the restored database after pg_restore.
SELECT timescaledb_post_restore();
