-- ms5-cutover: move one sequence of the target to the legacy's position (never
-- backwards). psql variables: sequence (schema-qualified, quoted as needed), value.
SELECT setval(:'sequence'::regclass, greatest(:'value'::bigint,
              coalesce((SELECT last_value FROM pg_sequences
                        WHERE format('%I.%I', schemaname, sequencename)::regclass = :'sequence'::regclass), 0)),
              true)
