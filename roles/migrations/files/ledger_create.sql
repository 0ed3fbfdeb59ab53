-- migrations role: the ledger. Runs in one transaction under the advisory lock,
-- so concurrent first runs do not race on CREATE SCHEMA.
-- Named argument lock_key: the advisory lock key (migrations_lock_key).
SELECT pg_advisory_xact_lock(%(lock_key)s);

CREATE SCHEMA IF NOT EXISTS ms5_migrations;

COMMENT ON SCHEMA ms5_migrations IS 'Ledger of the MS5.0 schema migrations (ms5.factory_telemetry migrations role)';

CREATE TABLE IF NOT EXISTS ms5_migrations.schema_migrations (
    version integer PRIMARY KEY CHECK (version > 0),
    file_name text NOT NULL UNIQUE CHECK (file_name ~ '^\d{3}_[a-z0-9_]+\.sql$'),
    checksum_sha256 text NOT NULL CHECK (checksum_sha256 ~ '^[0-9a-f]{64}$'),
    applied_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL CHECK (duration_ms >= 0),
    applied_by text NOT NULL,
    kind text NOT NULL DEFAULT 'applied' CHECK (kind IN ('applied', 'baseline'))
);

COMMENT ON TABLE ms5_migrations.schema_migrations IS
'One row per applied migration, committed in the same transaction as the migration. kind = baseline: adopted from a database migrated by hand';

-- Only the owner may read or write the ledger: default privileges granted to the
-- application and reporting roles must not reach it.
REVOKE ALL ON SCHEMA ms5_migrations FROM PUBLIC;

REVOKE ALL ON ms5_migrations.schema_migrations FROM PUBLIC;

DO $ledger_acl$
DECLARE
    grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT a.grantee::regrole::text
        FROM pg_catalog.pg_namespace AS n, aclexplode(n.nspacl) AS a
        WHERE n.nspname = 'ms5_migrations' AND a.grantee <> n.nspowner AND a.grantee <> 0
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA ms5_migrations FROM %%s', grantee_name);
    END LOOP;
    FOR grantee_name IN
        SELECT DISTINCT a.grantee::regrole::text
        FROM pg_catalog.pg_class AS c, aclexplode(c.relacl) AS a
        WHERE c.oid = 'ms5_migrations.schema_migrations'::regclass AND a.grantee <> c.relowner AND a.grantee <> 0
    LOOP
        EXECUTE format('REVOKE ALL ON ms5_migrations.schema_migrations FROM %%s', grantee_name);
    END LOOP;
END
$ledger_acl$;
