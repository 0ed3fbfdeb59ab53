#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollups
short_description: Converge the MS5.0 dashboard rollups on either TimescaleDB edition
version_added: 0.1.0
description:
  - Creates, changes and removes the rollups declared in O(rollups) in schema C(ms5_rollups),
    keeps their catalog C(ms5_rollups.catalog) current and creates the trend functions
    dashboards call.
  - On the Community edition (license C(timescale)) a rollup is a continuous aggregate with
    real-time aggregation, a refresh policy, compression (columnstore API where
    C(add_columnstore_policy) exists, else C(timescaledb.compress); 2.6+) and retention;
    a rollup built on another is a hierarchical continuous aggregate where the version
    allows it (2.9+).
  - On the Apache edition (license C(apache)) a rollup is a hypertable of the same columns
    behind a view of the same name that adds the rows after its watermark at query time;
    C(ms5_rollups.refresh()) (the host timer of the role) keeps it current incrementally.
  - Reads everything first and changes nothing when a declaration is invalid against the
    database (unknown table or column, retention shorter than the source's, a rollup that
    exists but is not in the catalog, a definition change without O(allow_rebuild)). All
    changes run in one transaction. Supports check mode and diff mode.
options:
  rollups:
    description: The declarations (the role's C(rollups_definitions)).
    type: list
    elements: dict
    required: true
  base_sql:
    description: Text of C(rollups_base.sql) (schema, catalog, refresh procedure), applied when it changed.
    type: str
    required: true
  allow_rebuild:
    description: Allow dropping and recomputing a rollup whose definition changed.
    type: bool
    default: false
  initial_refresh:
    description: Fill newly created rollups from their source's history before returning.
    type: bool
    default: true
  trend_max_points:
    description: Trend functions pick the finest rollup giving at most this many buckets.
    type: int
    default: 1500
  require_compression:
    description: Fail instead of warning when compression is declared on the Apache edition.
    type: bool
    default: false
  source_retention:
    description: Known retention per raw table, a mapping of schema.table to an interval, checked besides the database's own.
    type: dict
    default: {}
  host_retention_config:
    description: The host retention job's config, read (never written) for raw tables' retention on the Apache edition.
    type: path
    default: /etc/ms5/retention.conf
extends_documentation_fragment:
  - community.postgresql.postgres
  - ms5.factory_telemetry.postgresql
notes:
  - Connect as the role that owns the schema (C(timescaledb_owner_role)).
requirements:
  - psycopg2 (python3-psycopg2) or psycopg 3 on the managed host
author:
  - MS5.0 infrastructure team (@ms5-infra)
"""

EXAMPLES = r"""
- name: Converge the dashboard rollups
  ms5.factory_telemetry.rollups:
    rollups: "{{ rollups_definitions }}"
    base_sql: "{{ lookup('ansible.builtin.file', 'sql/rollups_base.sql') }}"
    login_user: ms5_owner
    login_password: "{{ vault_owner_password }}"
    login_db: factory_telemetry
"""

RETURN = r"""
edition:
  description: TimescaleDB edition found, C(apache) or C(timescale).
  returned: success
  type: str
version:
  description: TimescaleDB extension version.
  returned: success
  type: str
kind:
  description: C(table) (Apache edition) or C(continuous_aggregate) (Community edition).
  returned: success
  type: str
host_refresh:
  description: Whether the host timer must refresh the rollups (table kind with at least one rollup).
  returned: success
  type: bool
changes:
  description: One line per change made (or, in check mode, that would be made).
  returned: success
  type: list
statements:
  description: SQL run (or that would run).
  returned: success
  type: list
initial_refresh:
  description: Result of filling new rollups (ms5_rollups.refresh() items, or the continuous aggregates refreshed).
  returned: success
  type: list
summary:
  description: One row per rollup (rollup, source, bucket, retention, refresh, compression, trend).
  returned: success
  type: list
summary_lines:
  description: The summary as a fixed-width text table.
  returned: success
  type: list
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.ms5_postgres import (
    DatabaseError,
    argument_spec,
    connect,
    cursor,
)

from ansible_collections.ms5.factory_telemetry.plugins.module_utils.rollups import (
    KIND_CAGG,
    KIND_TABLE,
    SCHEMA,
    RollupError,
    choose_api,
    normalize_all,
    parse_interval,
    plan,
    split_table,
    sql_cagg_initial_refresh,
    summary_lines,
    typed,
    validation_errors,
)

_API_FUNCTIONS = ["by_range", "add_columnstore_policy", "cagg_watermark", "add_continuous_aggregate_policy",
                  "time_bucket", "create_hypertable"]


def _rows(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchall()


def _one(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchone()


def read_server(cur):
    row = _one(cur, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    if not row:
        raise RollupError("the timescaledb extension is not installed in this database (the timescaledb role creates it)")
    version = row[0]
    edition = _one(cur, "SELECT current_setting('timescaledb.license', true)")[0] or "apache"
    functions = {}
    for name, ns in _rows(cur, "SELECT p.proname, n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                               "WHERE p.proname = ANY(%s)", (_API_FUNCTIONS,)):
        functions.setdefault(name, []).append(ns)
    return choose_api(edition, version, functions)


def read_sources(cur, tables):
    """{table: {exists, columns {name: type}, time_dimension}}"""
    out = {}
    for table in sorted(tables):
        schema, name = split_table(table)
        row = _one(cur, "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')", (schema, name))
        if not row:
            out[table] = {"exists": False}
            continue
        cols = dict(_rows(cur, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                               "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (row[0],)))
        dim = _one(cur, "SELECT column_name FROM timescaledb_information.dimensions WHERE hypertable_schema = %s "
                        "AND hypertable_name = %s ORDER BY dimension_number LIMIT 1", (schema, name))
        out[table] = {"exists": True, "columns": cols, "time_dimension": dim[0] if dim else None}
    return out


def read_raw_retention(cur, api, path):
    """{table: seconds} of the raw tables' retention: TimescaleDB jobs and the host retention config."""
    found = {}
    for schema, name, text in _rows(
            cur, "SELECT hypertable_schema, hypertable_name, config->>'drop_after' FROM timescaledb_information.jobs "
                 "WHERE proc_name = 'policy_retention' AND hypertable_schema <> %s", (SCHEMA,)):
        try:
            found["%s.%s" % (schema, name)] = parse_interval(text, allow_calendar=True)["seconds"]
        except (RollupError, TypeError):
            continue
    if path and os.path.isfile(path):
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line.startswith("table="):
                    parts = line[len("table="):].split(None, 1)
                    if len(parts) == 2:
                        try:
                            secs = parse_interval(parts[1], allow_calendar=True)["seconds"]
                        except RollupError:
                            continue
                        found[parts[0]] = max(found.get(parts[0], 0), secs)
    return found


def _hash_in(comment, marker):
    match = re.search(r"%s ([0-9a-f]{16})" % re.escape(marker), comment or "")
    return match.group(1) if match else None


def read_state(cur, api):
    state = {"base_hash": None, "catalog": {}, "relations": {}, "code_hashes": {}, "caggs": {}, "tables": {},
             "trends": {}, "writers": [], "default_writers": []}
    nsp = _one(cur, "SELECT oid, obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
    ns_oid = nsp[0] if nsp else 0
    state["default_writers"] = [r[0] for r in _rows(
        cur, "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END "
             "FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE d.defaclrole = current_user::regrole AND a.grantee <> d.defaclrole "
             "AND d.defaclobjtype = 'r' AND d.defaclnamespace IN (0, %s) "
             "AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')", (ns_oid,))]
    if not nsp:
        return state
    state["base_hash"] = _hash_in(nsp[1], "base")
    if _one(cur, "SELECT to_regclass(%s)", ("%s.catalog" % SCHEMA,))[0]:
        cur.execute(
            "SELECT relation, kind, definition_hash, level, group_by, aggregates, source_table, "
            "EXTRACT(EPOCH FROM bucket)::float8, EXTRACT(EPOCH FROM refresh_lag)::float8, "
            "EXTRACT(EPOCH FROM refresh_interval)::float8, EXTRACT(EPOCH FROM retention)::float8, "
            "EXTRACT(EPOCH FROM compress_after)::float8, trend_function, storage_relation FROM %s.catalog" % SCHEMA)
        for row in cur.fetchall():
            aggs = row[5] if isinstance(row[5], list) else json.loads(row[5] or "[]")
            state["catalog"][row[0]] = {
                "relation": row[0], "kind": row[1], "definition_hash": row[2], "level": row[3],
                "group_by": list(row[4] or []), "aggregates": aggs, "source_table": row[6], "bucket": row[7],
                "refresh_lag": row[8], "refresh_interval": row[9], "retention": row[10], "compress_after": row[11],
                "trend_function": row[12], "storage_relation": row[13]}
    for name, kind, comment in _rows(
            cur, "SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') FROM pg_class c "
                 "WHERE c.relnamespace = %s AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname NOT LIKE '\\_%%'",
            (ns_oid,)):
        if name in ("catalog", "status"):
            continue
        state["relations"][name] = kind
        code = _hash_in(comment, "code")
        if code:
            state["code_hashes"][name] = code
    for name, seconds in _rows(
            cur, "SELECT hypertable_name, EXTRACT(EPOCH FROM time_interval)::float8 FROM timescaledb_information.dimensions "
                 "WHERE hypertable_schema = %s AND hypertable_name LIKE '\\_mat\\_%%'", (SCHEMA,)):
        state["tables"]["%s.%s" % (SCHEMA, name[len("_mat_"):])] = {"chunk": seconds}
    if api["kind"] == KIND_CAGG:
        state["caggs"] = read_caggs(cur)
    for proname, identity, comment in _rows(
            cur, "SELECT p.proname, p.oid::regprocedure::text, obj_description(p.oid, 'pg_proc') FROM pg_proc p "
                 "WHERE p.pronamespace = %s", (ns_oid,)):
        trend = _hash_in(comment, "ms5 rollups trend")
        if trend:
            state["trends"][identity] = {"hash": trend, "identity": identity}
    state["writers"] = [r[0] for r in _rows(
        cur, "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END "
             "FROM pg_class c, aclexplode(c.relacl) a WHERE c.relnamespace = %s AND c.relkind IN ('r', 'p', 'v', 'm') "
             "AND a.grantee <> c.relowner AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')",
        (ns_oid,))]
    return state


def read_caggs(cur):
    """Current policies of the continuous aggregates in the schema (Community edition)."""
    out = {}
    for view, mat_schema, mat_name, compressed in _rows(
            cur, "SELECT view_name, materialization_hypertable_schema, materialization_hypertable_name, "
                 "compression_enabled FROM timescaledb_information.continuous_aggregates WHERE view_schema = %s",
            (SCHEMA,)):
        rel = "%s.%s" % (SCHEMA, view)
        cur_state = {"compression_enabled": bool(compressed), "compression_after": None, "retention": None,
                     "refresh_job": False}
        for proc, start, end, every, comp, drop in _rows(
                cur, "SELECT proc_name, "
                     "EXTRACT(EPOCH FROM (config->>'start_offset')::interval)::float8, "
                     "EXTRACT(EPOCH FROM (config->>'end_offset')::interval)::float8, "
                     "EXTRACT(EPOCH FROM schedule_interval)::float8, "
                     "EXTRACT(EPOCH FROM (config->>'compress_after')::interval)::float8, "
                     "EXTRACT(EPOCH FROM (config->>'drop_after')::interval)::float8 "
                     "FROM timescaledb_information.jobs WHERE hypertable_schema = %s AND hypertable_name = %s",
                (mat_schema, mat_name)):
            if proc == "policy_refresh_continuous_aggregate":
                cur_state.update(refresh_job=True, refresh_start=start, refresh_end=end, refresh_schedule=every)
            elif proc in ("policy_compression", "policy_columnstore"):
                cur_state["compression_after"] = comp
            elif proc == "policy_retention":
                cur_state["retention"] = drop
        chunk = _one(cur, "SELECT EXTRACT(EPOCH FROM time_interval)::float8 FROM timescaledb_information.dimensions "
                          "WHERE hypertable_schema = %s AND hypertable_name = %s", (mat_schema, mat_name))
        cur_state["chunk"] = chunk[0] if chunk else None
        out[rel] = cur_state
    return out


def check_sources(rollups, sources, check_mode):
    """Problems with the raw tables (missing, not a hypertable, wrong time column); attach types."""
    errors, missing, typed_rollups = [], [], []
    for r in rollups:
        src = sources.get(r["raw_table"]) or {}
        if not src.get("exists"):
            missing.append(r["raw_table"])
            continue
        if r["source_table"]:
            if src.get("time_dimension") is None:
                errors.append("%s: source %s is not a hypertable (the timescaledb_policies role makes it one)"
                              % (r["relation"], r["raw_table"]))
                continue
            if src["time_dimension"] != r["time_column"]:
                errors.append("%s: source %s is partitioned by %s, not %s: set time_column to %s"
                              % (r["relation"], r["raw_table"], src["time_dimension"], r["time_column"],
                                 src["time_dimension"]))
                continue
        try:
            typed_rollups.append(typed(r, src["columns"]))
        except RollupError as exc:
            errors.append(str(exc))
    if missing and not check_mode:
        errors.extend("%s does not exist in the database (check the name, and that the migrations have run)" % t
                      for t in sorted(set(missing)))
    return errors, sorted(set(missing)), typed_rollups


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            rollups=dict(type="list", elements="dict", required=True),
            base_sql=dict(type="str", required=True),
            allow_rebuild=dict(type="bool", default=False),
            initial_refresh=dict(type="bool", default=True),
            trend_max_points=dict(type="int", default=1500),
            require_compression=dict(type="bool", default=False),
            source_retention=dict(type="dict", default={}),
            host_retention_config=dict(type="path", default="/etc/ms5/retention.conf"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    errors = validation_errors(p["rollups"], p["source_retention"])
    if errors:
        module.fail_json(msg="rollups_definitions is invalid: " + "; ".join(errors), errors=errors)
    if p["trend_max_points"] < 10:
        module.fail_json(msg="rollups_trend_max_points must be at least 10, got %d" % p["trend_max_points"])
    conn = connect(module, "ms5-rollups", none_if_absent_in_check_mode=True)
    if conn is None:
        module.warn("check mode: database %s at %s:%s is not running yet (the roles before this one would start "
                    "it); every rollup would be created" % (p["login_db"], p["login_host"], p["login_port"]))
        module.exit_json(changed=True, changes=["every rollup would be created (database not reachable yet)"],
                         statements=[], summary=[], summary_lines=[], host_refresh=False, initial_refresh=[])

    result = dict(changed=False, changes=[], statements=[], summary=[], summary_lines=[], initial_refresh=[])
    try:
        with cursor(conn) as cur:
            api = read_server(cur)
            sources = read_sources(cur, {r.get("source") for r in p["rollups"]
                                         if isinstance(r.get("source"), str) and "." in r["source"]
                                         and not r["source"].startswith(SCHEMA + ".")})
            raw_ret = read_raw_retention(cur, api, p["host_retention_config"])
            for table, value in (p["source_retention"] or {}).items():
                if value not in (None, ""):
                    raw_ret[table] = max(raw_ret.get(table, 0), parse_interval(str(value), allow_calendar=True)["seconds"])
            # retention against what is in place, and tables/columns: every problem in one message
            errors = validation_errors(p["rollups"], raw_ret)
            rollups = normalize_all(p["rollups"])
            source_errors, missing, typed_rollups = check_sources(rollups, sources, module.check_mode)
            errors.extend(source_errors)
            state = read_state(cur, api)
        conn.rollback()
        result.update(edition=api["edition"], version=api["version"], kind=api["kind"],
                      host_refresh=api["kind"] == KIND_TABLE and bool(rollups))
        if errors:
            module.fail_json(msg="; ".join(errors), errors=errors, edition=api["edition"], version=api["version"])
        if missing:
            module.warn("check mode: %s do(es) not exist yet (the migrations role creates them); every rollup on them "
                        "would be created" % ", ".join(missing))
            result.update(changed=True, changes=["rollups on %s would be created" % ", ".join(missing)])
            module.exit_json(**result)

        decided = plan(typed_rollups, state, api, p["base_sql"], allow_rebuild=p["allow_rebuild"],
                       max_points=p["trend_max_points"], require_compression=p["require_compression"])
        if decided["errors"]:
            module.fail_json(msg="; ".join(decided["errors"]), errors=decided["errors"], edition=api["edition"],
                             version=api["version"])
        for warning in decided["warnings"]:
            module.warn(warning)
        result.update(changes=decided["changes"], statements=decided["statements"], summary=decided["summary"],
                      summary_lines=summary_lines(decided["summary"], api, decided["trends"]),
                      trends=decided["trends"])
        if decided["statements"]:
            result["changed"] = True
            if module._diff:
                result["diff"] = {"before": decided["before"], "after": decided["after"]}
        if decided["statements"] and not module.check_mode:
            with cursor(conn) as cur:
                for statement in decided["statements"]:
                    try:
                        cur.execute(statement)
                    except DatabaseError as exc:
                        conn.rollback()
                        module.fail_json(msg="%s failed: %s (nothing was changed: one transaction)" % (
                            statement.splitlines()[0][:200], str(exc).strip()), statement=statement)
            conn.commit()
            if decided["refresh"] and p["initial_refresh"]:
                result["initial_refresh"] = initial_refresh(module, conn, api, decided["refresh"], typed_rollups)
    except RollupError as exc:
        module.fail_json(msg=str(exc))
    except DatabaseError as exc:
        module.fail_json(msg="database error: %s" % str(exc).strip())
    finally:
        conn.close()
    module.exit_json(**result)


def initial_refresh(module, conn, api, relations, rollups):
    """Fill new rollups once (outside a transaction: refreshes commit as they go)."""
    conn.autocommit = True
    out = []
    with cursor(conn) as cur:
        if api["kind"] == KIND_TABLE:
            cur.execute("CALL %s.refresh(%%s::text[], true)" % SCHEMA, (relations,))
            row = cur.fetchone()
            items = row[0] if row and isinstance(row[0], list) else json.loads(row[0]) if row and row[0] else []
            failed = [i for i in items if i.get("status") == "failed"]
            if failed:
                module.fail_json(msg="the rollups were created but their first refresh failed: %s" % "; ".join(
                    "%s: %s" % (i["relation"], i.get("error")) for i in failed), changed=True, initial_refresh=items)
            return items
        by_rel = {r["relation"]: r for r in rollups}
        for rel in relations:
            cur.execute(sql_cagg_initial_refresh(by_rel[rel]))
            out.append({"relation": rel, "status": "refreshed"})
    return out


if __name__ == "__main__":
    main()
