-- ms5-cutover: write counters of every user table and what resets them (read-only).
-- Used to prove that no row of a time-series table was updated or deleted since the
-- history was copied, and that nothing wrote to the legacy database during the pause.
-- One JSON object. pg_stat_user_tables counts every insert, update and delete (also
-- of aborted transactions) once the session that made it has reported its statistics
-- (at the latest when it disconnects).
SELECT json_build_object(
    'postmaster_start', pg_postmaster_start_time()::text,
    'stats_reset', (SELECT stats_reset::text FROM pg_stat_database WHERE datname = current_database()),
    'tables', (SELECT coalesce(json_object_agg(s.schemaname || '.' || s.relname, json_build_object(
                   'ins', s.n_tup_ins, 'upd', s.n_tup_upd, 'del', s.n_tup_del,
                   'filenode', pg_relation_filenode(s.relid))), '{}')
               FROM pg_stat_user_tables AS s)
)
