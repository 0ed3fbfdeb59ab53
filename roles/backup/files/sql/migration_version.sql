-- Highest applied migration version (only run when the ledger exists).
SELECT coalesce(max(version)::text, '') FROM ms5_migrations.schema_migrations;
