-- ms5-cutover (rollback): rows of one table written (inserted or updated) by
-- transactions at or after the cutover's horizon, i.e. by the writers on TimescaleDB
-- (read-only). psql variables: schema, table, horizon_low (the horizon's transaction
-- id modulo 2^32). Frozen tuples (xmin 2) and older transactions count as before.
SELECT count(*)
FROM :"schema".:"table" AS t
WHERE t.xmin::text::bigint >= 3
  AND ((t.xmin::text::bigint - :'horizon_low'::bigint) % 4294967296 + 4294967296) % 4294967296 < 2147483648
