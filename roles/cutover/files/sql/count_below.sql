-- ms5-cutover: rows of one table below its last cutoff, counted in the pause to
-- find rows that arrived below the cutoff after their snapshot (read-only).
-- psql variables: schema, table, column, upper. One line: the count.
SELECT count(*) FROM :"schema".:"table" AS t WHERE t.:"column" < :'upper';
