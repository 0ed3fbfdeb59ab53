-- ms5_migrations_*: the applied schema version from the migration ledger, read through
-- ms5_monitoring.migration_status() (the ledger is private to the owner role).
SELECT m.applied_version, m.applied_count
FROM ms5_monitoring.migration_status() AS m
