# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""How the collection's modules connect: community.postgresql's own layer.

Login options come from ``postgres_common_argument_spec()`` (so the action
group ``ms5.factory_telemetry.postgresql``, which extends
``community.postgresql.all``, sets them for every database task at once) and
the connection from ``connect_to_db()``. Only two things are added here: the
database option (``login_db``, as in postgresql_query) and a cursor that
returns tuples whichever psycopg generation is installed on the host.
"""

from __future__ import annotations

from ansible_collections.community.postgresql.plugins.module_utils import postgres as _pg
from ansible_collections.community.postgresql.plugins.module_utils.postgres import (
    connect_to_db,
    ensure_required_libs,
    get_conn_params,
    postgres_common_argument_spec,
)
from ansible_collections.community.postgresql.plugins.module_utils.version import LooseVersion

# The exception every psycopg generation raises for database errors.
DatabaseError = getattr(_pg.psycopg, "Error", Exception) if _pg.psycopg is not None else Exception


def argument_spec(**options):
    """community.postgresql's login options, login_db, and the module's own OPTIONS."""
    spec = postgres_common_argument_spec()
    spec["login_db"] = dict(type="str", required=True, aliases=["db"])
    spec.update(options)
    return spec


# A server that is not there (yet), as opposed to a refused login.
UNREACHABLE = ("Connection refused", "could not connect to server", "timeout expired", "No route to host",
               "could not translate host name")


def connect(module, application_name,
            fail_msg="cannot connect to database {db} at {host}:{port} as {user}: {error}",
            none_if_absent_in_check_mode=False):
    """Connect with the module's login options (autocommit off: the module commits).

    Fails the module with FAIL_MSG, which may name {db}, {host}, {port}, {user}
    and {error} (never the password). With NONE_IF_ABSENT_IN_CHECK_MODE, check
    mode against a server that does not listen yet (a fresh host, whose database
    the timescaledb role did not really start) returns None instead of failing;
    a refused login still fails.
    """
    ensure_required_libs(module)
    params = get_conn_params(module, module.params)
    params.setdefault("connect_timeout", 15)
    params.setdefault("application_name", application_name)
    conn, err = connect_to_db(module, params, autocommit=False, fail_on_conn=False)
    if conn is None:
        if none_if_absent_in_check_mode and module.check_mode and any(s in str(err) for s in UNREACHABLE):
            return None
        p = module.params
        module.fail_json(msg=fail_msg.format(
            db=p["login_db"], host=p["login_host"] or p["login_unix_socket"] or "localhost", port=p["login_port"],
            user=p["login_user"], error=str(err).strip()))
    return conn


def cursor(conn):
    """A cursor whose rows are tuples (psycopg 3 connections default to dicts here)."""
    if _pg.PSYCOPG_VERSION >= LooseVersion("3"):
        return conn.cursor(row_factory=_pg.psycopg.rows.tuple_row)
    return conn.cursor()


def values_list(rows, template_width):
    """``(%s, %s, ...), (...)`` placeholders and the flat argument list for a multi-row VALUES."""
    one = "(" + ", ".join(["%s"] * template_width) + ")"
    flat = []
    for row in rows:
        if len(row) != template_width:
            raise ValueError("row %r does not have %d values" % (row, template_width))
        flat.extend(row)
    return ", ".join([one] * len(rows)), flat
