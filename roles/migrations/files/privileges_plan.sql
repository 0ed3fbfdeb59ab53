-- migrations role: the GRANT/REVOKE statements that leave the reporting role
-- able to read every column of a table except the sensitive ones. Read-only:
-- returns the statements (none when the privileges are already right).
-- Named arguments: role = the reporting role; columns = base64 of a JSON list of
-- "schema.table.column". Tables the role cannot read at all are left alone.
WITH wanted AS (
    SELECT split_part(c, '.', 1) AS nsp, split_part(c, '.', 2) AS rel, split_part(c, '.', 3) AS col
    FROM json_array_elements_text(convert_from(decode(%(columns)s, 'base64'), 'UTF8')::json) AS c
),
grantee AS (
    SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(role)s
),
tables AS (
    SELECT DISTINCT cl.oid, format('%%I.%%I', w.nsp, w.rel) AS qname
    FROM wanted AS w
    INNER JOIN pg_catalog.pg_namespace AS n ON n.nspname = w.nsp
    INNER JOIN pg_catalog.pg_class AS cl ON cl.relnamespace = n.oid AND cl.relname = w.rel AND cl.relkind IN ('r', 'p', 'v', 'm', 'f')
),
cols AS (
    SELECT
        t.oid,
        t.qname,
        a.attname,
        EXISTS (
            SELECT 1 FROM wanted AS w
            INNER JOIN pg_catalog.pg_namespace AS n ON n.nspname = w.nsp
            INNER JOIN pg_catalog.pg_class AS cl ON cl.relnamespace = n.oid AND cl.relname = w.rel
            WHERE cl.oid = t.oid AND w.col = a.attname
        ) AS sensitive,
        EXISTS (
            SELECT 1 FROM aclexplode(a.attacl) AS x, grantee AS g
            WHERE x.grantee = g.oid AND x.privilege_type = 'SELECT'
        ) AS col_select
    FROM tables AS t
    INNER JOIN pg_catalog.pg_attribute AS a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
),
per_table AS (
    SELECT
        t.qname,
        EXISTS (
            SELECT 1 FROM pg_catalog.pg_class AS cl, aclexplode(cl.relacl) AS x, grantee AS g
            WHERE cl.oid = t.oid AND x.grantee = g.oid AND x.privilege_type = 'SELECT'
        ) AS table_select,
        bool_or(c.col_select) AS any_col_select,
        bool_or(c.sensitive) AS has_sensitive,
        string_agg(quote_ident(c.attname), ', ' ORDER BY c.attname) FILTER (WHERE NOT c.sensitive) AS readable,
        string_agg(quote_ident(c.attname), ', ' ORDER BY c.attname) FILTER (WHERE NOT c.sensitive AND NOT c.col_select) AS to_grant,
        string_agg(quote_ident(c.attname), ', ' ORDER BY c.attname) FILTER (WHERE c.sensitive AND c.col_select) AS to_revoke
    FROM tables AS t
    INNER JOIN cols AS c ON c.oid = t.oid
    GROUP BY t.oid, t.qname
)
SELECT coalesce(json_agg(s.statement ORDER BY s.qname, s.n), '[]'::json) AS statements
FROM (
    SELECT p.qname, 1 AS n, format('REVOKE SELECT ON %%s FROM %%I', p.qname, %(role)s) AS statement
    FROM per_table AS p WHERE p.has_sensitive AND p.table_select
    UNION ALL
    SELECT p.qname, 2, format('GRANT SELECT (%%s) ON %%s TO %%I', p.readable, p.qname, %(role)s)
    FROM per_table AS p WHERE p.has_sensitive AND p.table_select AND p.readable IS NOT NULL
    UNION ALL
    SELECT p.qname, 3, format('GRANT SELECT (%%s) ON %%s TO %%I', p.to_grant, p.qname, %(role)s)
    FROM per_table AS p WHERE p.has_sensitive AND NOT p.table_select AND p.any_col_select AND p.to_grant IS NOT NULL
    UNION ALL
    SELECT p.qname, 4, format('REVOKE SELECT (%%s) ON %%s FROM %%I', p.to_revoke, p.qname, %(role)s)
    FROM per_table AS p WHERE p.has_sensitive AND NOT p.table_select AND p.to_revoke IS NOT NULL
) AS s
