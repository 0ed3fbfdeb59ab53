-- migrations role: which of the given objects exist (baseline verification and
-- detection of a database migrated by hand). Read-only.
-- Named argument objects: base64 of a JSON list of
-- {"version", "file_name", "kind": table|view|index|function, "schema", "name"}.
SELECT
    o.version,
    o.file_name,
    o.kind,
    o.schema AS schema_name,
    o.name AS object_name,
    CASE o.kind
        WHEN 'function' THEN EXISTS (
            SELECT 1
            FROM pg_catalog.pg_proc AS p
            INNER JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
            WHERE n.nspname = o.schema AND p.proname = o.name
        )
        ELSE to_regclass(format('%%I.%%I', o.schema, o.name)) IS NOT NULL
    END AS present
FROM json_to_recordset(convert_from(decode(%(objects)s, 'base64'), 'UTF8')::json)
    AS o (version integer, file_name text, kind text, schema text, name text)
ORDER BY o.version, o.kind, o.schema, o.name
