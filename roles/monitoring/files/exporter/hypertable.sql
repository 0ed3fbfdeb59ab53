-- ms5_hypertable_*: one row per hypertable. Sizes come from hypertable_size()
-- (all chunks, their indexes and TOAST; not the empty parent table) and the
-- compression catalog (hypertable_compression_stats); counts from the chunk
-- catalog. No table row is read. Works on both editions: on the Apache edition
-- nothing is compressed and no compression policy exists, so the compression
-- columns are 0.
WITH ht AS (
  SELECT h.hypertable_schema AS schema_name, h.hypertable_name AS table_name, c.oid AS relid
  FROM timescaledb_information.hypertables AS h
  JOIN pg_catalog.pg_namespace AS n ON n.nspname = h.hypertable_schema
  JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = h.hypertable_name
),
policy AS (
  -- Compression policies with a time-based compress_after (Community edition).
  SELECT j.hypertable_schema AS schema_name, j.hypertable_name AS table_name,
         (j.config ->> 'compress_after')::interval AS compress_after,
         j.schedule_interval
  FROM timescaledb_information.jobs AS j
  WHERE j.proc_name = 'policy_compression'
    AND jsonb_typeof(j.config -> 'compress_after') = 'string'
),
chunk AS (
  SELECT ch.hypertable_schema AS schema_name, ch.hypertable_name AS table_name,
         count(*) AS chunks,
         count(*) FILTER (WHERE ch.is_compressed) AS compressed_chunks,
         -- Chunks whose whole range is older than compress_after plus one run of the
         -- policy's schedule, and still not compressed: the policy is behind or failing.
         count(*) FILTER (WHERE NOT ch.is_compressed
                            AND ch.range_end < now() - p.compress_after - p.schedule_interval) AS late_chunks
  FROM timescaledb_information.chunks AS ch
  LEFT JOIN policy AS p ON p.schema_name = ch.hypertable_schema AND p.table_name = ch.hypertable_name
  GROUP BY 1, 2
)
SELECT ht.schema_name AS schema,
       ht.schema_name || '.' || ht.table_name AS hypertable,
       sz.total AS size_bytes,
       coalesce(chunk.chunks, 0) AS chunks,
       coalesce(chunk.compressed_chunks, 0) AS compressed_chunks,
       coalesce(cs.after_bytes, 0) AS compressed_bytes,
       greatest(sz.total - coalesce(cs.after_bytes, 0), 0) AS uncompressed_bytes,
       coalesce(cs.before_bytes, 0) AS compressed_original_bytes,
       (policy.compress_after IS NOT NULL)::int AS compression_policy,
       coalesce(chunk.late_chunks, 0) AS chunks_uncompressed_past_policy
FROM ht
CROSS JOIN LATERAL (SELECT coalesce(hypertable_size(ht.relid), 0) AS total) AS sz
LEFT JOIN LATERAL (
  SELECT sum(s.before_compression_total_bytes) AS before_bytes,
         sum(s.after_compression_total_bytes) AS after_bytes
  FROM hypertable_compression_stats(ht.relid) AS s
) AS cs ON true
LEFT JOIN chunk ON chunk.schema_name = ht.schema_name AND chunk.table_name = ht.table_name
LEFT JOIN policy ON policy.schema_name = ht.schema_name AND policy.table_name = ht.table_name
