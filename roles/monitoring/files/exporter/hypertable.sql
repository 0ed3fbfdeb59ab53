-- ms5_hypertable_*: one row per hypertable. Sizes are what hypertable_size() returns
-- (the parent's own relation plus every chunk with indexes and TOAST, compressed
-- chunks included; not just the empty parent), summed here in one pass over
-- TimescaleDB's chunk catalog with pg_total_relation_size(), because calling
-- hypertable_size() once per hypertable costs about a tenth of a second each.
-- Counts come from the chunk catalog, the bytes before compression from the
-- compression catalog. No table row is read. Works on both editions: on the Apache
-- edition nothing is compressed and no compression policy exists, so the
-- compression columns are 0.
WITH ht AS (
  SELECT i.hypertable_schema AS schema_name, i.hypertable_name AS table_name, h.id,
         h.compressed_hypertable_id, c.oid AS relid
  FROM timescaledb_information.hypertables AS i
  JOIN _timescaledb_catalog.hypertable AS h
    ON h.schema_name = i.hypertable_schema AND h.table_name = i.hypertable_name
  JOIN pg_catalog.pg_namespace AS n ON n.nspname = i.hypertable_schema
  JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = i.hypertable_name
),
chunk AS (
  SELECT ch.id, ch.hypertable_id, ch.compressed_chunk_id, pg_catalog.pg_total_relation_size(c.oid) AS bytes
  FROM _timescaledb_catalog.chunk AS ch
  JOIN pg_catalog.pg_namespace AS n ON n.nspname = ch.schema_name
  JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = ch.table_name
  WHERE NOT ch.dropped
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
late AS (
  -- Chunks whose whole range is older than compress_after plus one run of the
  -- policy's schedule, and still not compressed: the policy is behind or failing.
  SELECT ch.hypertable_schema AS schema_name, ch.hypertable_name AS table_name, count(*) AS chunks
  FROM timescaledb_information.chunks AS ch
  JOIN policy AS p ON p.schema_name = ch.hypertable_schema AND p.table_name = ch.hypertable_name
  WHERE NOT ch.is_compressed AND ch.range_end < now() - p.compress_after - p.schedule_interval
  GROUP BY 1, 2
)
SELECT ht.schema_name AS schema,
       ht.schema_name || '.' || ht.table_name AS hypertable,
       sz.total AS size_bytes,
       sz.chunks AS chunks,
       sz.compressed_chunks AS compressed_chunks,
       sz.compressed AS compressed_bytes,
       greatest(sz.total - sz.compressed, 0) AS uncompressed_bytes,
       coalesce(orig.bytes, 0) AS compressed_original_bytes,
       (policy.compress_after IS NOT NULL)::int AS compression_policy,
       coalesce(late.chunks, 0) AS chunks_uncompressed_past_policy
FROM ht
CROSS JOIN LATERAL (
  SELECT pg_catalog.pg_total_relation_size(ht.relid)
           + coalesce(sum(ch.bytes) FILTER (WHERE ch.hypertable_id = ht.id), 0)
           + coalesce(sum(ch.bytes) FILTER (WHERE ch.hypertable_id = ht.compressed_hypertable_id), 0) AS total,
         coalesce(sum(ch.bytes) FILTER (WHERE ch.hypertable_id = ht.compressed_hypertable_id), 0) AS compressed,
         count(*) FILTER (WHERE ch.hypertable_id = ht.id) AS chunks,
         count(*) FILTER (WHERE ch.hypertable_id = ht.id AND ch.compressed_chunk_id IS NOT NULL) AS compressed_chunks
  FROM chunk AS ch
  WHERE ch.hypertable_id IN (ht.id, ht.compressed_hypertable_id)
) AS sz
LEFT JOIN LATERAL (
  SELECT sum(s.uncompressed_heap_size + s.uncompressed_toast_size + s.uncompressed_index_size) AS bytes
  FROM _timescaledb_catalog.compression_chunk_size AS s
  JOIN chunk AS ch ON ch.id = s.chunk_id
  WHERE ch.hypertable_id = ht.id
) AS orig ON true
LEFT JOIN policy ON policy.schema_name = ht.schema_name AND policy.table_name = ht.table_name
LEFT JOIN late ON late.schema_name = ht.schema_name AND late.table_name = ht.table_name
