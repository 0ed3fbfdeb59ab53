-- Row count and content fingerprint of ONE table, optionally restricted to a
-- half-open range [lower, upper) of one column: the same fingerprint as
-- table_fingerprints.sql (the sum of the first 64 bits of md5(row::text) over the
-- rows, with the same pinned row-text settings), so that disjoint ranges add up to
-- the whole table's value. Used by the cutover to prove the history copied before
-- its write pause and the tail copied during it.
-- psql variables: schema, table; optionally column, lower, upper ('-infinity' and
-- 'infinity' for an open end; the literals take the column's type).
-- Output: rows, fingerprint.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
\if :{?column}
SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0)
FROM :"schema".:"table" AS t
WHERE t.:"column" >= :'lower' AND t.:"column" < :'upper';
\else
SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0)
FROM :"schema".:"table" AS t;
\endif
