-- Is this database's TimescaleDB job scheduler running, and how many jobs are
-- scheduled? Output: t|f, count.
SELECT EXISTS (
           SELECT 1 FROM pg_stat_activity
           WHERE datname = current_database()
             AND backend_type = 'TimescaleDB Background Worker Scheduler'
       ),
       (SELECT count(*) FROM _timescaledb_config.bgw_job WHERE scheduled);
