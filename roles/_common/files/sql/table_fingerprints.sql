-- Row count and content fingerprint of every user table (plain tables and
-- hypertables; chunks are read through their hypertable, extension tables and
-- TimescaleDB's internal schemas are skipped). Output: schema, table, rows, fingerprint.
--
-- The fingerprint is the sum, as numeric, of the first 64 bits of md5(row::text)
-- over all rows: equal row multisets give equal fingerprints whatever the physical
-- order (a plain table and the hypertable made from it compare equal), and a
-- changed, missing or extra row changes it. Row text depends on a few settings,
-- pinned here so that two servers (e.g. PostgreSQL 15 and 17) render rows alike.
-- Used by ms5-backup (verification and restore) and the cutover proof.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SELECT n.nspname,
       c.relname,
       (xpath('/row/n/text()', r.x))[1]::text::bigint,
       coalesce((xpath('/row/f/text()', r.x))[1]::text, '0')
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (
  SELECT query_to_xml(
           format('SELECT count(*) AS n, sum((''x'' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric) AS f '
                  'FROM %I.%I AS t', n.nspname, c.relname),
           false, true, '') AS x
) AS r
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  AND n.nspname NOT LIKE '\_timescaledb\_%'
  AND n.nspname NOT LIKE 'timescaledb\_%'
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend AS d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY 1, 2;
