-- ms5-cutover (rollback): the rows after_rows.sql counts, as COPY text on stdout.
-- psql variables: schema, table, columns (a quoted column list), horizon_low.
COPY (
    SELECT :columns
    FROM :"schema".:"table" AS t
    WHERE t.xmin::text::bigint >= 3
      AND ((t.xmin::text::bigint - :'horizon_low'::bigint) % 4294967296 + 4294967296) % 4294967296 < 2147483648
) TO STDOUT
