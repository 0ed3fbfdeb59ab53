#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: timescaledb_policies
short_description: Converge TimescaleDB hypertables, chunk intervals, compression and retention
version_added: 0.1.0
description:
  - Reads the current state of each listed table from C(timescaledb_information) and
    C(pg_catalog), decides what differs from the wanted state, and changes only that.
  - Makes a table a hypertable if it is not one yet (with C(migrate_data) when it already
    holds rows), sets the chunk time interval when it differs, applies compression settings
    and the compression policy, adds, replaces or removes retention policies.
  - Uses the API the server has, looked up in C(pg_proc) (never by version number),
    C(add_columnstore_policy) and C(timescaledb.enable_columnstore) where they exist,
    C(add_compression_policy) and C(timescaledb.compress) where they do not;
    C(create_hypertable) with C(by_range) where that exists.
  - On the Apache edition of TimescaleDB (license C(apache)) there are no compression or
    retention policies. Compression is skipped with a warning (or the module fails when
    O(require_compression=true)), and retention must use the host timer (O(retention_mechanism=host),
    chosen by V(auto)), for which the module returns RV(host_retention).
  - Every table is validated (exists, columns exist, time column matches) before anything
    is changed. Supports check mode and diff mode.
options:
  hypertables:
    description:
      - The wanted state, one item per table. See the role C(timescaledb_policies) README.
    type: list
    elements: dict
    required: true
  retention_mechanism:
    description:
      - V(job) uses TimescaleDB retention policies (Community edition only), V(host) leaves
        retention to the host timer, V(auto) picks V(job) on the Community edition and V(host)
        on the Apache edition.
    type: str
    choices: [auto, job, host]
    default: auto
  require_compression:
    description: Fail instead of warning when compression is wanted but the edition lacks it.
    type: bool
    default: false
  host_retention_config:
    description: Path of the host retention config, read (never written) to report the current state.
    type: path
    default: /etc/ms5/retention.conf
extends_documentation_fragment:
  - community.postgresql.postgres
  - ms5.factory_telemetry.postgresql
notes:
  - Connect as the role that owns the tables (C(timescaledb_owner_role)).
requirements:
  - psycopg2 (python3-psycopg2) or psycopg 3 on the managed host
author:
  - MS5.0 infrastructure team (@ms5-infra)
"""

EXAMPLES = r"""
- name: Converge hypertable policies
  ms5.factory_telemetry.timescaledb_policies:
    login_user: ms5_owner
    login_password: "{{ vault_owner_password }}"
    login_db: factory_telemetry
    hypertables:
      - table: factory_telemetry.metric_hist
        time_column: ts
        chunk_time_interval: 1 hour
        compression: {segment_by: [metric_def_id], order_by: "ts DESC", after: 7 days}
        retention: {drop_after: 90 days}
"""

RETURN = r"""
database_absent:
  description: True in check mode when the database does not listen yet (a fresh host); nothing else is returned then.
  returned: when the database is absent in check mode
  type: bool
edition:
  description: TimescaleDB edition found (C(timescaledb.license)), C(apache) or C(timescale).
  returned: always
  type: str
version:
  description: TimescaleDB extension version.
  returned: always
  type: str
api:
  description: The API chosen, for example C(compression=columnstore) and C(by_range=true).
  returned: always
  type: dict
retention_mechanism:
  description: C(job) or C(host).
  returned: always
  type: str
statements:
  description: SQL run (or, in check mode, that would run), per table.
  returned: always
  type: dict
host_retention:
  description: Tables the host timer must trim (items with keys table and drop_after); empty when retention runs as jobs.
  returned: always
  type: list
summary:
  description: One row per table (table, chunk_interval, compression, retention, mechanism).
  returned: always
  type: list
summary_lines:
  description: The summary as a fixed-width text table.
  returned: always
  type: list
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.ms5_postgres import (
    DatabaseError,
    argument_spec,
    connect,
    cursor,
)
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.timescaledb_policies import (
    PolicyError,
    choose_api,
    host_retention_lines,
    normalize_entries,
    parse_column_list,
    parse_order_by,
    plan_table,
    qident,
    retention_mechanism,
    summary_lines,
)

_API_FUNCTIONS = [
    "add_columnstore_policy", "remove_columnstore_policy",
    "add_compression_policy", "remove_compression_policy",
    "add_retention_policy", "remove_retention_policy",
    "by_range", "create_hypertable", "set_chunk_time_interval", "drop_chunks", "alter_job",
]


def _one(cur, sql, args=None):
    cur.execute(sql, args)
    return cur.fetchone()


def read_server(cur):
    row = _one(cur, "SELECT extversion, extnamespace FROM pg_extension WHERE extname = 'timescaledb'")
    if not row:
        raise PolicyError("the timescaledb extension is not installed in this database "
                          "(the timescaledb role and migration 001 create it)")
    version, nsp = row
    license_row = _one(cur, "SELECT current_setting('timescaledb.license', true)")
    edition = (license_row[0] if license_row else None) or "apache"
    cur.execute("SELECT proname, max(prokind::text) FROM pg_proc WHERE pronamespace = %s AND proname = ANY(%s) "
                "GROUP BY proname", (nsp, _API_FUNCTIONS))
    functions = dict(cur.fetchall())
    views_row = _one(cur, "SELECT to_regclass('timescaledb_information.hypertable_compression_settings') IS NOT NULL")
    return {"version": version, "edition": edition, "functions": functions,
            "has_hypertable_compression_settings": bool(views_row[0])}


def read_table(cur, entry, server, host_retention):
    schema, table = entry["schema"], entry["table"]
    rel = "%s.%s" % (qident(schema), qident(table))
    cur.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')", (schema, table))
    row = cur.fetchone()
    current = {"exists": bool(row), "host_retention_text": host_retention.get(entry["name"])}
    if not row:
        return current
    oid = row[0]
    cur.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (oid,))
    current["columns"] = dict(cur.fetchall())

    row = _one(cur, "SELECT compression_enabled FROM timescaledb_information.hypertables "
                    "WHERE hypertable_schema = %s AND hypertable_name = %s", (schema, table))
    current["hypertable"] = bool(row)
    if not row:
        current["has_rows"] = bool(_one(cur, "SELECT EXISTS (SELECT 1 FROM %s)" % rel)[0])
        return current
    current["compression_enabled"] = bool(row[0])

    row = _one(cur, "SELECT column_name, time_interval::text, EXTRACT(EPOCH FROM time_interval)::float8 "
                    "FROM timescaledb_information.dimensions WHERE hypertable_schema = %s "
                    "AND hypertable_name = %s ORDER BY dimension_number LIMIT 1", (schema, table))
    if row:
        current["time_column"], current["chunk_interval_text"], current["chunk_interval_seconds"] = row

    if current["compression_enabled"]:
        if server["has_hypertable_compression_settings"]:
            row = _one(cur, "SELECT segmentby, orderby FROM timescaledb_information.hypertable_compression_settings "
                            "WHERE hypertable = %s::regclass", (rel,))
            current["segment_by"] = parse_column_list(row[0]) if row else []
            current["order_by"] = parse_order_by(row[1]) if row and row[1] else []
        else:
            cur.execute("SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc, "
                        "orderby_nullsfirst FROM timescaledb_information.compression_settings "
                        "WHERE hypertable_schema = %s AND hypertable_name = %s", (schema, table))
            rows = cur.fetchall()
            current["segment_by"] = [r[0] for r in sorted((r for r in rows if r[1]), key=lambda r: r[1])]
            current["order_by"] = [(r[0], bool(r[3]), bool(r[4]))
                                   for r in sorted((r for r in rows if r[2]), key=lambda r: r[2])]

    cur.execute(
        "SELECT job_id, proc_name, "
        "COALESCE(config->>'compress_after', config->>'drop_after'), "
        "CASE WHEN jsonb_typeof(COALESCE(config->'compress_after', config->'drop_after')) = 'string' "
        "THEN EXTRACT(EPOCH FROM (COALESCE(config->>'compress_after', config->>'drop_after'))::interval)::float8 END "
        "FROM timescaledb_information.jobs WHERE hypertable_schema = %s AND hypertable_name = %s "
        "AND proc_name IN ('policy_compression', 'policy_retention') ORDER BY job_id", (schema, table))
    current["compression_job_ids"], current["retention_job_ids"] = [], []
    for job_id, proc, text, secs in cur.fetchall():
        kind = "compression" if proc == "policy_compression" else "retention"
        current["%s_job_ids" % kind].append(job_id)
        current["%s_after_text" % kind] = text
        current["%s_after_seconds" % kind] = secs
    return current


def read_host_retention(path):
    """table -> drop_after from the host timer's config (table=<name> <interval> lines)."""
    found = {}
    if not path or not os.path.isfile(path):
        return found
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("table="):
                parts = line[len("table="):].split(None, 1)
                if len(parts) == 2:
                    found[parts[0]] = parts[1]
    return found


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            hypertables=dict(type="list", elements="dict", required=True),
            retention_mechanism=dict(type="str", choices=["auto", "job", "host"], default="auto"),
            require_compression=dict(type="bool", default=False),
            host_retention_config=dict(type="path", default="/etc/ms5/retention.conf"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        entries = normalize_entries(params["hypertables"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    conn = connect(module, "ms5-timescaledb-policies", none_if_absent_in_check_mode=True)
    if conn is None:
        module.exit_json(changed=False, database_absent=True,
                         msg="check mode: database %s at %s:%s is not running yet; the policies would be converged "
                             "on a real run" % (params["login_db"], params["login_host"], params["login_port"]))

    result = dict(changed=False, statements={}, summary=[], summary_lines=[], host_retention=[])
    done = []
    try:
        # Phase 1: read everything and decide, changing nothing.
        with cursor(conn) as cur:
            server = read_server(cur)
            api = choose_api(server["functions"])
            mechanism = retention_mechanism(params["retention_mechanism"], server["edition"])
            host_current = read_host_retention(params["host_retention_config"])
            ctx = {"edition": server["edition"], "api": api, "retention_mechanism": mechanism,
                   "require_compression": params["require_compression"]}
            plans = []
            errors = []
            for entry in entries:
                try:
                    plans.append((entry, plan_table(entry, read_table(cur, entry, server, host_current), ctx)))
                except PolicyError as exc:
                    errors.append(str(exc))
        conn.rollback()
        if errors:
            module.fail_json(msg="; ".join(errors), errors=errors, edition=server["edition"],
                             version=server["version"])
        result.update(edition=server["edition"], version=server["version"], api=api,
                      retention_mechanism=mechanism,
                      host_retention=host_retention_lines(entries, mechanism))

        # Phase 2: apply, one transaction per table.
        diffs = []
        for entry, plan in plans:
            for warning in plan["warnings"]:
                module.warn(warning)
            result["summary"].append(plan["summary"])
            result["statements"][entry["name"]] = plan["statements"]
            if not plan["statements"]:
                continue
            result["changed"] = True
            diffs.append({"before_header": entry["name"], "after_header": entry["name"],
                          "before": plan["before"], "after": plan["after"]})
            if module.check_mode:
                continue
            with cursor(conn) as cur:
                for statement in plan["statements"]:
                    try:
                        cur.execute(statement)
                    except DatabaseError as exc:
                        conn.rollback()
                        module.fail_json(
                            msg="%s: %s failed: %s" % (entry["name"], statement, str(exc).strip()),
                            changed=bool(done), tables_changed=done, **{k: v for k, v in result.items()
                                                                        if k != "changed"})
            conn.commit()
            done.append(entry["name"])
        result["summary_lines"] = summary_lines(result["summary"], server["edition"], server["version"])
        if module._diff and diffs:
            result["diff"] = diffs
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    except DatabaseError as exc:
        module.fail_json(msg="database error: %s" % str(exc).strip(), tables_changed=done)
    finally:
        conn.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
