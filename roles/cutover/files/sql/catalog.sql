-- ms5-cutover: a description of the user objects of the current database, for the
-- comparisons between the reference built from the shipped migrations, the legacy
-- database and the target (read-only). One JSON array of {"k": kind, "n": name,
-- "d": definition}. Owners, privileges, statistics, storage and the objects of
-- extensions (TimescaleDB's chunks and catalogs) and of the migration ledger are
-- left out; definitions come from PostgreSQL's own deparsers (pg_get_*def).
WITH ns AS (
    SELECT n.oid, n.nspname
    FROM pg_namespace AS n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'ms5_migrations')
      AND n.nspname NOT LIKE 'pg\_temp\_%'
      AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
      AND n.nspname NOT LIKE '\_timescaledb\_%'
      AND n.nspname NOT LIKE 'timescaledb\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                      WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
),
rel AS (
    SELECT c.oid, c.relname, c.relkind, ns.nspname, ns.nspname || '.' || c.relname AS qname
    FROM pg_class AS c
    JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT EXISTS (SELECT 1 FROM pg_depend AS d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
),
fn AS (
    SELECT p.oid, ns.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS qname
    FROM pg_proc AS p
    JOIN ns ON ns.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
),
objects (k, n, d) AS (
    SELECT 'schema'::text, nspname::text, ''::text FROM ns WHERE nspname <> 'public'
    UNION ALL
    SELECT 'table', r.qname,
           (SELECT string_agg(format('%I %s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                     CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                                     CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END,
                                     coalesce(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), '')),
                              ', ' ORDER BY a.attnum)
            FROM pg_attribute AS a
            LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
            WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped)
    FROM rel AS r WHERE r.relkind IN ('r', 'p')
    UNION ALL
    SELECT 'view', r.qname, pg_get_viewdef(r.oid, true) FROM rel AS r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'index', r.qname, pg_get_indexdef(r.oid) FROM rel AS r WHERE r.relkind IN ('i', 'I')
    UNION ALL
    SELECT 'sequence', r.qname,
           format('%s increment %s min %s max %s start %s cycle %s', format_type(s.seqtypid, NULL),
                  s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcycle)
    FROM rel AS r JOIN pg_sequence AS s ON s.seqrelid = r.oid
    UNION ALL
    SELECT 'constraint', r.qname || '.' || con.conname, pg_get_constraintdef(con.oid)
    FROM pg_constraint AS con JOIN rel AS r ON r.oid = con.conrelid
    UNION ALL
    SELECT 'trigger', r.qname || '.' || t.tgname, pg_get_triggerdef(t.oid)
    FROM pg_trigger AS t JOIN rel AS r ON r.oid = t.tgrelid
    WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'function', fn.qname, md5(pg_get_functiondef(fn.oid)) FROM fn
    UNION ALL
    SELECT 'type', ns.nspname || '.' || t.typname,
           CASE t.typtype
               WHEN 'e' THEN (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
                              FROM pg_enum AS e WHERE e.enumtypid = t.oid)
               ELSE format_type(t.typbasetype, t.typtypmod) END
    FROM pg_type AS t JOIN ns ON ns.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd')
      AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                      WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'comment', 'schema ' || ns.nspname, obj_description(ns.oid, 'pg_namespace')
    FROM ns WHERE obj_description(ns.oid, 'pg_namespace') IS NOT NULL AND ns.nspname <> 'public'
    UNION ALL
    SELECT 'comment', 'relation ' || r.qname, obj_description(r.oid, 'pg_class')
    FROM rel AS r WHERE obj_description(r.oid, 'pg_class') IS NOT NULL
    UNION ALL
    SELECT 'comment', 'column ' || r.qname || '.' || a.attname, col_description(r.oid, a.attnum)
    FROM rel AS r JOIN pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE col_description(r.oid, a.attnum) IS NOT NULL
    UNION ALL
    SELECT 'comment', 'function ' || fn.qname, obj_description(fn.oid, 'pg_proc')
    FROM fn WHERE obj_description(fn.oid, 'pg_proc') IS NOT NULL
)
SELECT coalesce(json_agg(json_build_object('k', k, 'n', n, 'd', d) ORDER BY k, n), '[]') FROM objects
