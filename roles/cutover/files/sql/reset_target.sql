-- ms5-cutover: empty the target database of an earlier cutover attempt that
-- returned to (or was rolled back to) the legacy service, so that the next attempt
-- loads into an empty database again. Drops every user schema (with its tables,
-- hypertables and chunks, views, functions, the migration ledger) and the user
-- objects in public; keeps the database, its extensions, privileges and default
-- privileges that the timescaledb role set up. Only run when the cutover's state
-- says the target holds an earlier attempt.
DO $reset$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT n.nspname
        FROM pg_namespace AS n
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public')
          AND n.nspname NOT LIKE 'pg\_%'
          AND n.nspname NOT LIKE '\_timescaledb\_%'
          AND n.nspname NOT LIKE 'timescaledb\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                          WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname);
    END LOOP;
    FOR r IN
        SELECT c.oid::regclass AS rel, c.relkind
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
          AND c.relkind IN ('r', 'p', 'v', 'm')
          AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP %s IF EXISTS %s CASCADE',
                       CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.rel);
    END LOOP;
    FOR r IN
        SELECT p.oid::regprocedure AS fn, p.prokind
        FROM pg_proc AS p
        JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
          AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE r.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, r.fn);
    END LOOP;
END
$reset$;
