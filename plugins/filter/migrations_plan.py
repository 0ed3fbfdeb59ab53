# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache-2.0 (see galaxy.yml)
"""Filters of the ``migrations`` role: plan, validate and wrap SQL migrations.

Everything here is a pure function of its inputs (file names, contents,
checksums, ledger rows), so the role's decisions are unit-tested in
``tests/unit/test_migrations_plan.py`` without a database.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

DOCUMENTATION_NAME_PATTERN = r"^\d{3}_[a-z0-9_]+\.sql$"
NAME_RE = re.compile(DOCUMENTATION_NAME_PATTERN)

# Marker raised by the guard of a combined script when another run applied the
# same version while this run waited for the advisory lock.
CONCURRENT_MARKER = "ms5-migrations: already applied by a concurrent run"

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QNAME = r"(%s(?:\s*\.\s*%s)?)" % (_IDENT, _IDENT)

_TX_CONTROL = {
    "BEGIN": "BEGIN",
    "START": "START TRANSACTION",
    "COMMIT": "COMMIT",
    "END": "END",
    "ROLLBACK": "ROLLBACK",
    "ABORT": "ABORT",
    "SAVEPOINT": "SAVEPOINT",
    "RELEASE": "RELEASE SAVEPOINT",
}
_NO_TX_BLOCK = [
    (re.compile(r"^VACUUM\b"), "VACUUM"),
    (re.compile(r"^(CREATE|DROP|ALTER)\s+DATABASE\b"), "CREATE/DROP/ALTER DATABASE"),
    (re.compile(r"^(CREATE|DROP)\s+TABLESPACE\b"), "CREATE/DROP TABLESPACE"),
    (re.compile(r"^ALTER\s+SYSTEM\b"), "ALTER SYSTEM"),
    (re.compile(r"^PREPARE\s+TRANSACTION\b"), "PREPARE TRANSACTION"),
    (re.compile(r"^COPY\b.*\bFROM\s+STDIN\b"), "COPY ... FROM STDIN"),
]

_CREATE_PATTERNS = [
    ("table", re.compile(
        r"^CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _QNAME, re.I)),
    ("view", re.compile(
        r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:RECURSIVE\s+)?(?:MATERIALIZED\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _QNAME, re.I)),
    ("function", re.compile(
        r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+" + _QNAME + r"\s*\(", re.I)),
]
_CREATE_INDEX = re.compile(
    r"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(%s)\s+ON\s+(?:ONLY\s+)?%s"
    % (_IDENT, _QNAME), re.I)
_DROP = re.compile(
    r"^DROP\s+(TABLE|VIEW|MATERIALIZED\s+VIEW|INDEX|FUNCTION|PROCEDURE)\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?(.*)$",
    re.I | re.S)
_RENAME = re.compile(
    r"^ALTER\s+(TABLE|VIEW|MATERIALIZED\s+VIEW|INDEX)\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?" + _QNAME
    + r"\s+RENAME\s+TO\s+(" + _IDENT + r")\s*$", re.I)
_SET_SEARCH_PATH = re.compile(r"^SET\s+(?:SESSION\s+|LOCAL\s+)?search_path\s*(?:TO|=)\s*(" + _IDENT + ")", re.I)


class MigrationsFilterError(ValueError):
    """Raised for inputs a filter cannot work with (a bug in the role's call)."""


# --------------------------------------------------------------------------
# A small SQL scanner: enough of PostgreSQL's lexical rules to find statement
# boundaries and their leading keywords, ignoring comments, string literals,
# quoted identifiers and dollar-quoted bodies (function bodies, DO blocks).
# --------------------------------------------------------------------------
def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def split_statements(sql: str) -> List[Dict[str, Any]]:
    """Split SQL text into statements.

    Returns a list of ``{"text": str, "line": int, "meta": [(line, text)]}``.
    ``text`` is the statement with comments removed, string literals and
    dollar-quoted bodies replaced by empty literals, and runs of whitespace
    collapsed; ``line`` is the 1-based line of its first token. ``meta``
    lists psql meta-commands (a backslash outside any literal), which the
    database would reject.
    """
    statements: List[Dict[str, Any]] = []
    buf: List[str] = []
    start_line: Optional[int] = None
    line = 1
    i = 0
    n = len(sql)
    atomic_depth = 0
    words: List[str] = []  # upper-cased words of the current statement
    meta: List[Tuple[int, str]] = []

    def flush() -> None:
        nonlocal buf, start_line, words
        text = " ".join("".join(buf).split())
        if text:
            statements.append({"text": text, "line": start_line or line, "meta": []})
        buf = []
        start_line = None
        words = []

    while i < n:
        ch = sql[i]
        nxt = sql[i + 1] if i + 1 < n else ""
        if ch == "\n":
            line += 1
            buf.append(" ")
            i += 1
            continue
        if ch.isspace():
            buf.append(" ")
            i += 1
            continue
        # -- comment to end of line
        if ch == "-" and nxt == "-":
            while i < n and sql[i] != "\n":
                i += 1
            buf.append(" ")
            continue
        # /* nested */ comment
        if ch == "/" and nxt == "*":
            depth = 0
            while i < n:
                if sql.startswith("/*", i):
                    depth += 1
                    i += 2
                    continue
                if sql.startswith("*/", i):
                    depth -= 1
                    i += 2
                    if depth == 0:
                        break
                    continue
                if sql[i] == "\n":
                    line += 1
                i += 1
            buf.append(" ")
            continue
        if start_line is None:
            start_line = line
        # 'string', E'string' (backslash escapes), '' doubling
        if ch == "'":
            prev = sql[i - 1] if i > 0 else ""
            prev2 = sql[i - 2] if i > 1 else ""
            backslash = prev in "eE" and not _is_ident_char(prev2)
            i += 1
            while i < n:
                c = sql[i]
                if c == "\n":
                    line += 1
                if backslash and c == "\\":
                    i += 2
                    continue
                if c == "'":
                    if i + 1 < n and sql[i + 1] == "'":
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
            buf.append("''")
            continue
        # "quoted identifier" (kept verbatim)
        if ch == '"':
            j = i + 1
            while j < n:
                if sql[j] == '"':
                    if j + 1 < n and sql[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            chunk = sql[i:j + 1]
            line += chunk.count("\n")
            buf.append(chunk)
            words.append(chunk)
            i = j + 1
            continue
        # $tag$ dollar quoting $tag$
        if ch == "$" and not (i > 0 and _is_ident_char(sql[i - 1])):
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m:
                tag = m.group(0)
                end = sql.find(tag, i + len(tag))
                if end < 0:
                    end = n
                body = sql[i:end + len(tag)]
                line += body.count("\n")
                buf.append(" '' ")
                i = end + len(tag)
                continue
        # psql meta-command: a backslash outside literals
        if ch == "\\":
            j = sql.find("\n", i)
            j = n if j < 0 else j
            meta.append((line, sql[i:j].strip()))
            i = j
            continue
        if ch == ";" and atomic_depth == 0:
            flush()
            i += 1
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < n and _is_ident_char(sql[j]):
                j += 1
            word = sql[i:j]
            upper = word.upper()
            if upper == "ATOMIC" and words and words[-1] == "BEGIN":
                atomic_depth += 1
            elif atomic_depth and upper == "CASE":
                atomic_depth += 1
            elif atomic_depth and upper == "END":
                atomic_depth -= 1
            words.append(upper)
            buf.append(word)
            i = j
            continue
        buf.append(ch)
        i += 1
    flush()
    if meta:
        if statements:
            statements[0]["meta"] = meta
        else:
            statements.append({"text": "", "line": meta[0][0], "meta": meta})
    return statements


def forbidden_statements(sql: str) -> List[str]:
    """Describe every statement that cannot run inside the role's transaction."""
    problems: List[str] = []
    for stmt in split_statements(sql):
        for mline, mtext in stmt["meta"]:
            problems.append("line %d: psql meta-command %r (the database does not understand psql commands)"
                            % (mline, mtext))
        text = stmt["text"]
        if not text:
            continue
        upper = text.upper()
        first = upper.split(" ", 1)[0]
        if first in _TX_CONTROL and not (first == "START" and not upper.startswith("START TRANSACTION")):
            problems.append("line %d: explicit transaction control %s (the role wraps each file in one transaction)"
                            % (stmt["line"], _TX_CONTROL[first]))
            continue
        if re.search(r"\bCONCURRENTLY\b", upper):
            problems.append("line %d: CONCURRENTLY (cannot run inside a transaction block, nor on hypertables)"
                            % stmt["line"])
            continue
        for rx, label in _NO_TX_BLOCK:
            if rx.search(upper):
                problems.append("line %d: %s (cannot run inside a transaction block)" % (stmt["line"], label))
                break
    return problems


def _unquote(ident: str) -> str:
    ident = ident.strip()
    if ident.startswith('"') and ident.endswith('"'):
        return ident[1:-1].replace('""', '"')
    return ident.lower()


def _split_qname(qname: str, default_schema: str) -> Tuple[str, str]:
    parts = re.findall(_IDENT, qname)
    if len(parts) >= 2:
        return _unquote(parts[0]), _unquote(parts[1])
    return default_schema, _unquote(parts[0])


def created_objects(sql: str) -> List[Dict[str, str]]:
    """Objects a file leaves behind: created tables, views, named indexes and
    functions, minus the ones it drops or renames again.

    Unqualified names resolve to ``public`` unless the file sets search_path.
    Returns ``[{"kind", "schema", "name"}]`` in order of creation.
    """
    objects: List[Dict[str, str]] = []
    schema = "public"

    def remove(kind: str, sch: str, name: str) -> None:
        for obj in list(objects):
            if obj["kind"] == kind and obj["schema"] == sch and obj["name"] == name:
                objects.remove(obj)

    for stmt in split_statements(sql):
        text = stmt["text"]
        m = _SET_SEARCH_PATH.match(text)
        if m:
            schema = _unquote(m.group(1))
            continue
        matched = False
        for kind, rx in _CREATE_PATTERNS:
            m = rx.match(text)
            if m:
                sch, name = _split_qname(m.group(1), schema)
                remove(kind, sch, name)
                objects.append({"kind": kind, "schema": sch, "name": name})
                matched = True
                break
        if matched:
            continue
        m = _CREATE_INDEX.match(text)
        if m:
            tsch, dummy = _split_qname(m.group(2), schema)
            name = _unquote(m.group(1))
            remove("index", tsch, name)
            objects.append({"kind": "index", "schema": tsch, "name": name})
            continue
        m = _DROP.match(text)
        if m:
            kind, targets = _drop_targets(m)
            for target in targets:
                if target.strip():
                    sch, name = _split_qname(target, schema)
                    if kind == "index":
                        for obj in list(objects):
                            if obj["kind"] == "index" and obj["name"] == name and \
                                    (obj["schema"] == sch or "." not in target):
                                objects.remove(obj)
                    else:
                        remove(kind, sch, name)
            continue
        m = _RENAME.match(text)
        if m:
            kind = m.group(1).upper().split()[-1].lower()
            sch, name = _split_qname(m.group(2), schema)
            for obj in objects:
                if obj["kind"] == kind and obj["schema"] == sch and obj["name"] == name:
                    obj["name"] = _unquote(m.group(3))
    return objects


def objects_up_to(files: List[Dict[str, Any]], version: int) -> List[Dict[str, Any]]:
    """Net objects of files 1..version, each tagged with the version and file
    that created it last (for baseline verification)."""
    net: List[Dict[str, Any]] = []
    for item in sorted(files, key=lambda f: f["version"]):
        if item["version"] > version:
            break
        created = created_objects(item["content"])
        created_keys = {(o["kind"], o["schema"], o["name"]) for o in created}
        dropped = _dropped_keys(item["content"])
        net = [o for o in net
               if (o["kind"], o["schema"], o["name"]) not in created_keys
               and (o["kind"], o["schema"], o["name"]) not in dropped]
        for obj in created:
            net.append(dict(obj, version=item["version"], file_name=item["name"]))
    return net


def _drop_targets(match) -> tuple:
    """(kind, [target names]) of a DROP statement matched by _DROP."""
    kind = match.group(1).upper().split()[-1].lower()
    kind = {"procedure": "function"}.get(kind, kind)
    targets = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "", match.group(2))
    targets = re.sub(r"\b(CASCADE|RESTRICT)\b", "", targets, flags=re.I)
    return kind, targets.split(",")


def _dropped_keys(sql: str) -> set:
    """(kind, schema, name) of objects a file drops or renames away."""
    keys = set()
    schema = "public"
    for stmt in split_statements(sql):
        text = stmt["text"]
        m = _SET_SEARCH_PATH.match(text)
        if m:
            schema = _unquote(m.group(1))
            continue
        m = _DROP.match(text)
        if m:
            kind, targets = _drop_targets(m)
            for target in targets:
                if target.strip():
                    keys.add((kind,) + _split_qname(target, schema))
            continue
        m = _RENAME.match(text)
        if m:
            kind = m.group(1).upper().split()[-1].lower()
            keys.add((kind,) + _split_qname(m.group(2), schema))
    return keys


# --------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------
def _sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8", "surrogateescape")).hexdigest()


def migrations_plan(files: List[Dict[str, Any]], ledger: Optional[List[Dict[str, Any]]] = None,
                    baseline_version: int = 0, source_dir: str = "",
                    contents: Optional[List[str]] = None) -> Dict[str, Any]:
    """Validate migration files against the ledger and decide what to do.

    ``files``: ``[{"name" or "path", "content", "checksum"}]`` where checksum
    is the SHA-256 of the file's bytes as computed by the find module (may be
    empty when unknown); ``contents``, when given, holds the texts of
    ``files`` in the same order (find results carry no content).
    ``ledger``: rows of ms5_migrations.schema_migrations (a query without
    rows returns ``{}``).

    Returns ``{"errors", "files", "applied", "pending", "baseline",
    "unknown_objects"}``; no entry of ``pending``/``baseline`` may be acted on
    when ``errors`` is not empty.
    """
    ledger = list(ledger or [])
    if contents is not None:
        files = [{"path": item} if isinstance(item, str) else item for item in files]
        if len(contents) != len(files):
            raise MigrationsFilterError("%d files but %d contents" % (len(files), len(contents)))
        files = [dict(item, content=text) for item, text in zip(files, contents)]
    files = [{"path": item} if isinstance(item, str) else item for item in files]
    files = [dict(item, name=item.get("name") or str(item["path"]).replace("\\", "/").rsplit("/", 1)[-1])
             for item in files]
    where = (" in %s" % source_dir) if source_dir else ""
    errors: List[str] = []
    valid: List[Dict[str, Any]] = []
    try:
        baseline_version = int(baseline_version or 0)
    except (TypeError, ValueError):
        raise MigrationsFilterError("baseline_version must be an integer, got %r" % (baseline_version,))

    for item in sorted(files, key=lambda f: f["name"]):
        name = item["name"]
        if not NAME_RE.match(name):
            errors.append("%s%s: file name does not match %s; rename it to NNN_lower_case_words.sql "
                          "(three-digit version, e.g. 010_add_shift_notes.sql)"
                          % (name, where, DOCUMENTATION_NAME_PATTERN))
            continue
        content = item.get("content", "")
        checksum = _sha256(content)
        if item.get("checksum") and item["checksum"] != checksum:
            errors.append("%s%s: not valid UTF-8 text; save it as UTF-8" % (name, where))
            continue
        if not content.strip():
            errors.append("%s%s: the file is empty; put the migration's SQL in it or delete it" % (name, where))
            continue
        for problem in forbidden_statements(content):
            errors.append("%s%s: %s; remove it (split the work into statements that run in one transaction)"
                          % (name, where, problem))
        valid.append({"version": int(name[:3]), "name": name, "checksum": checksum, "content": content})

    by_version: Dict[int, List[Dict[str, Any]]] = {}
    for item in valid:
        by_version.setdefault(item["version"], []).append(item)
    for version, items in sorted(by_version.items()):
        if len(items) > 1:
            errors.append("%s%s: duplicate version %03d; give each file its own number"
                          % (" and ".join(i["name"] for i in items), where, version))
        if version == 0:
            errors.append("%s%s: version 000 is not allowed; versions start at 001" % (items[0]["name"], where))
    versions = sorted(by_version)
    expected = 1
    for version in versions:
        if version == 0:
            continue
        if version > expected:
            missing = ", ".join("%03d" % v for v in range(expected, version))
            errors.append("%s%s: version gap, %s missing before it; add the missing file(s) or renumber "
                          "(only versions that were never applied may be renumbered)"
                          % (by_version[version][0]["name"], where, missing))
        expected = version + 1

    ledger_by_version: Dict[int, Dict[str, Any]] = {int(r["version"]): r for r in ledger}
    for version, row in sorted(ledger_by_version.items()):
        items = by_version.get(version)
        if not items:
            errors.append("%s: recorded in the ledger as version %03d (applied %s) but there is no such file%s; "
                          "restore the file, or run the collection version that applied it"
                          % (row.get("file_name"), version, row.get("applied_at", "?"), where))
            continue
        item = items[0]
        if row.get("file_name") != item["name"]:
            errors.append("%s%s: version %03d was applied as %s; restore the original file name "
                          "(applied files must not be renamed)" % (item["name"], where, version, row.get("file_name")))
        elif row.get("checksum_sha256") != item["checksum"]:
            errors.append("%s%s: checksum drift, the file changed after it was applied on %s "
                          "(ledger sha256 %s, file sha256 %s); restore the applied version of the file "
                          "and put the change into a new migration"
                          % (item["name"], where, row.get("applied_at", "?"), row.get("checksum_sha256"),
                             item["checksum"]))

    max_version = versions[-1] if versions else 0
    if baseline_version < 0:
        errors.append("migrations_baseline_version is %d; it must be 0 (no baseline) or a version number"
                      % baseline_version)
    elif baseline_version > max_version:
        errors.append("migrations_baseline_version is %d but the newest migration file%s is version %03d; "
                      "set it to the last version that was applied by hand" % (baseline_version, where, max_version))

    pending: List[Dict[str, Any]] = []
    baseline: List[Dict[str, Any]] = []
    applied: List[Dict[str, Any]] = []
    for item in sorted(valid, key=lambda f: f["version"]):
        if item["version"] in ledger_by_version:
            applied.append({k: item[k] for k in ("version", "name", "checksum")})
        elif item["version"] <= baseline_version:
            baseline.append({k: item[k] for k in ("version", "name", "checksum")})
        else:
            pending.append(item)

    # Objects that pending migrations would create but that already exist
    # point at a database migrated by hand (see migrations_baseline_version).
    applied_keys = set()
    for obj in objects_up_to(valid, baseline_version or 0):
        applied_keys.add((obj["kind"], obj["schema"], obj["name"]))
    for item in valid:
        if item["version"] in ledger_by_version:
            for obj in created_objects(item["content"]):
                applied_keys.add((obj["kind"], obj["schema"], obj["name"]))
    unknown: List[Dict[str, Any]] = []
    for item in pending:
        for obj in created_objects(item["content"]):
            if obj["kind"] == "table" and (obj["kind"], obj["schema"], obj["name"]) not in applied_keys:
                unknown.append(dict(obj, version=item["version"], file_name=item["name"]))

    return {
        "errors": errors,
        "files": [{k: i[k] for k in ("version", "name", "checksum")} for i in sorted(valid, key=lambda f: f["version"])],
        "applied": applied,
        "pending": pending,
        "baseline": baseline,
        "baseline_objects": objects_up_to(valid, baseline_version) if baseline else [],
        "new_tables": unknown,
    }


def _sql_literal(value: Any) -> str:
    text = str(value)
    if "\x00" in text:
        raise MigrationsFilterError("NUL byte in SQL literal")
    return "'" + text.replace("'", "''") + "'"


def migrations_script(migration: Dict[str, Any], lock_key: int, applied_by: str,
                      lock_timeout: str = "0", ledger_table: str = "ms5_migrations.schema_migrations") -> str:
    """The SQL that applies one migration and records it, atomically.

    Line 1 takes the advisory lock (waiting at most ``lock_timeout``), fails
    if the version was recorded meanwhile (a concurrent run), and notes the
    start time. The migration's text starts on line 1 too, so line numbers
    in database errors are the file's own. The ledger INSERT comes last:
    one implicit transaction commits both, or neither.
    """
    version = int(migration["version"])
    name = migration["name"]
    checksum = migration["checksum"]
    if not NAME_RE.match(name) or not re.match(r"^[0-9a-f]{64}$", checksum):
        raise MigrationsFilterError("invalid migration entry %r" % (name,))
    prefix = (
        "SET LOCAL lock_timeout = %s; SELECT pg_advisory_xact_lock(%d); SET LOCAL lock_timeout = DEFAULT; "
        "DO $ms5_guard$ BEGIN IF EXISTS (SELECT 1 FROM %s WHERE version = %d) THEN "
        "RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = %s; END IF; END $ms5_guard$; "
        "SELECT set_config('ms5_migrations.started_at', clock_timestamp()::text, true); "
        % (_sql_literal(lock_timeout), int(lock_key), ledger_table, version,
           _sql_literal("%s: version %03d (%s)" % (CONCURRENT_MARKER, version, name)))
    )
    suffix = (
        "\n;\nINSERT INTO %s (version, file_name, checksum_sha256, applied_at, duration_ms, applied_by, kind) "
        "VALUES (%d, %s, %s, clock_timestamp(), "
        "(1000 * extract(epoch FROM clock_timestamp() - current_setting('ms5_migrations.started_at')::timestamptz))::integer, "
        "%s, 'applied');\n"
        % (ledger_table, version, _sql_literal(name), _sql_literal(checksum),
           "format('%%s (%%s)', current_user, %s)" % _sql_literal(applied_by))
    )
    return prefix + migration["content"] + suffix


def migrations_db_error(message: Any, file_name: str = "") -> Dict[str, Any]:
    """Reduce a failed postgresql_query/postgresql_script result message to the database's own
    error (with its LINE/position context) and classify it."""
    text = str(message or "")
    # postgresql_query: "Cannot execute SQL '<sql>' None: <error>, query list: ['<sql>']"
    # postgresql_script: "Cannot execute SQL '<sql>' None: <error>"
    cut = text.rfind(", query list: [")
    if cut >= 0:
        text = text[:cut]
    m = re.search(r"' (?:None|\[.*?\]|\{.*?\}): (.*)\Z", text, re.S)
    db = m.group(1) if m else text
    db = db.strip()
    concurrent = CONCURRENT_MARKER in db
    lock_timeout = "canceling statement due to lock timeout" in db
    line_m = re.search(r"^LINE (\d+):", db, re.M)
    return {
        "message": db,
        "line": int(line_m.group(1)) if line_m else None,
        "concurrent": concurrent,
        "lock_timeout": lock_timeout,
        "file": file_name,
    }


class FilterModule(object):
    """Filters of the migrations role."""

    def filters(self):
        return {
            "migrations_plan": migrations_plan,
            "migrations_script": migrations_script,
            "migrations_db_error": migrations_db_error,
            "migrations_created_objects": created_objects,
            "migrations_forbidden_statements": forbidden_statements,
        }
