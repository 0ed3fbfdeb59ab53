# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""The SQL scanner of the migrations role: the one place that reads migration SQL.

* ``split_statements``: enough of PostgreSQL's lexical rules to find statement
  boundaries and their words, ignoring comments, string literals, quoted
  identifiers and dollar-quoted bodies (function bodies, DO blocks), keeping
  each statement's first line.
* ``TRANSACTION_RULES`` / ``forbidden_statements``: the one rule list of
  statements that cannot run inside the role's transaction (one file and its
  ledger row commit together). The role (preflight and validate) and the unit
  tests of the shipped schema (tests/unit/test_migration_files.py) both use it.
* ``created_objects`` / ``objects_up_to`` / ``new_objects``: the tables, views,
  named indexes and functions files leave behind, for baseline adoption.

Pure functions, no database; unit-tested in tests/unit/test_migrations_scanner.py.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, List, Optional, Tuple

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QNAME = r"(%s(?:\s*\.\s*%s)?)" % (_IDENT, _IDENT)

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

# The one rule list: statements that cannot run inside the transaction the role
# wraps around each file. (label, pattern on the upper-cased statement text,
# reason). Statements are matched after comments, literals and bodies are blanked.
TRANSACTION_RULES: List[Tuple[str, "re.Pattern[str]", str]] = [
    ("explicit transaction control %s",
     re.compile(r"^(BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE TRANSACTION"
                r"|COMMIT PREPARED|ROLLBACK PREPARED)\b"),
     "the role wraps each file in one transaction"),
    ("CONCURRENTLY",
     re.compile(r"\bCONCURRENTLY\b"),
     "cannot run inside a transaction block (CREATE/DROP INDEX, REINDEX, REFRESH MATERIALIZED VIEW, "
     "DETACH PARTITION), nor on hypertables"),
    ("VACUUM", re.compile(r"^VACUUM\b"), "cannot run inside a transaction block"),
    ("CREATE/DROP/ALTER DATABASE", re.compile(r"^(CREATE|DROP|ALTER)\s+DATABASE\b"),
     "cannot run inside a transaction block"),
    ("CREATE/DROP TABLESPACE", re.compile(r"^(CREATE|DROP)\s+TABLESPACE\b"),
     "cannot run inside a transaction block"),
    ("ALTER SYSTEM", re.compile(r"^ALTER\s+SYSTEM\b"), "cannot run inside a transaction block"),
    ("REINDEX SYSTEM/DATABASE", re.compile(r"^REINDEX\s+(\(.*\)\s*)?(SYSTEM|DATABASE)\b"),
     "cannot run inside a transaction block"),
    ("CREATE/DROP SUBSCRIPTION", re.compile(r"^(CREATE|DROP)\s+SUBSCRIPTION\b"),
     "cannot run inside a transaction block"),
    ("COPY ... FROM STDIN", re.compile(r"^COPY\b.*\bFROM\s+STDIN\b"),
     "needs psql to send the data, which the role does not"),
]
# Deliberately accepted: ALTER TYPE ... ADD VALUE runs inside a transaction block
# since PostgreSQL 12 (the new value is usable from the next migration on; using
# it in the same file fails at apply time and is rolled back).


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
    """Describe every statement that cannot run inside the role's transaction
    (``TRANSACTION_RULES``) and every psql meta-command, with its line."""
    problems: List[str] = []
    for stmt in split_statements(sql):
        for mline, mtext in stmt["meta"]:
            problems.append("line %d: psql meta-command %r (the database does not understand psql commands)"
                            % (mline, mtext))
        upper = stmt["text"].upper()
        if not upper:
            continue
        for label, rx, reason in TRANSACTION_RULES:
            m = rx.search(upper)
            if m:
                if "%s" in label:
                    label = label % m.group(1)
                problems.append("line %d: %s (%s)" % (stmt["line"], label, reason))
                break
    return problems


def statement_texts(sql: str) -> List[str]:
    """The statements of SQL as skeletons: comments dropped, literals and bodies
    blanked, whitespace collapsed (what schema-style tests match against)."""
    return [s["text"] for s in split_statements(sql) if s["text"]]


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
        created, dropped = _file_objects(item["content"])
        created_keys = {(o["kind"], o["schema"], o["name"]) for o in created}
        net = [o for o in net
               if (o["kind"], o["schema"], o["name"]) not in created_keys
               and (o["kind"], o["schema"], o["name"]) not in dropped]
        for obj in created:
            net.append(dict(obj, version=item["version"], file_name=item["name"]))
    return net


@functools.lru_cache(maxsize=256)
def _file_objects(sql: str) -> Tuple[Tuple[Dict[str, str], ...], frozenset]:
    """(created objects, dropped keys) of one file's text, scanned once per text."""
    return tuple(created_objects(sql)), frozenset(_dropped_keys(sql))


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


def new_objects(files: List[Dict[str, Any]], version: int) -> List[Dict[str, Any]]:
    """Objects file ``version`` creates that do not exist after 1..version-1
    (``CREATE OR REPLACE`` of an older view is not new). With the database at
    version-1 none of them may exist yet."""
    before = {(o["kind"], o["schema"], o["name"]) for o in objects_up_to(files, version - 1)}
    item = next((f for f in files if f["version"] == version), None)
    if item is None:
        return []
    return [dict(o, version=version, file_name=item["name"]) for o in _file_objects(item["content"])[0]
            if (o["kind"], o["schema"], o["name"]) not in before]
