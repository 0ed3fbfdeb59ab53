# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""The plan of the migrations role: which files are valid, applied, pending or
adopted as a baseline, and whether the database's objects agree.

* ``migrations_plan``: validates the files (names, versions, UTF-8, the
  scanner's transaction rules) and compares them with the ledger (drift,
  renamed or missing files), then splits them into applied / baseline /
  pending. With no ledger it is the input-only validation (validate.yml).
* ``migrations_adoption``: from the objects found in the database, the
  baseline hint (the highest version whose objects all exist) and the refusal
  of a database migrated by hand or of a wrong baseline.

Pure functions; unit-tested in tests/unit/test_migrations_plan.py.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_scanner import (
    created_objects,
    forbidden_statements,
    new_objects,
    objects_up_to,
)
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_script import NAME_RE

DOCUMENTATION_NAME_PATTERN = NAME_RE.pattern


class MigrationsPlanError(ValueError):
    """Raised for inputs the planner cannot work with (a bug in the role's call)."""


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
    "baseline_version", "catalog", "model"}``; no entry of ``pending`` or
    ``baseline`` may be acted on when ``errors`` is not empty.
    """
    ledger = list(ledger or [])
    if contents is not None:
        files = [{"path": item} if isinstance(item, str) else item for item in files]
        if len(contents) != len(files):
            raise MigrationsPlanError("%d files but %d contents" % (len(files), len(contents)))
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
        raise MigrationsPlanError("baseline_version must be an integer, got %r" % (baseline_version,))

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

    catalog: Dict[Tuple[str, str, str], Dict[str, str]] = {}
    model: List[Dict[str, Any]] = []
    for item in sorted(valid, key=lambda f: f["version"]):
        for obj in created_objects(item["content"]):
            catalog.setdefault(object_key(obj), {k: obj[k] for k in ("kind", "schema", "name")})
        if not any(len(by_version[v]) > 1 for v in by_version):
            model.append({
                "version": item["version"],
                "name": item["name"],
                "net": [object_key(o) for o in objects_up_to(valid, item["version"])],
                "new": [object_key(o) for o in new_objects(valid, item["version"])],
            })

    return {
        "errors": errors,
        "files": [{k: i[k] for k in ("version", "name", "checksum")} for i in sorted(valid, key=lambda f: f["version"])],
        "applied": applied,
        "pending": pending,
        "baseline": baseline,
        "baseline_version": baseline_version,
        # every object any file creates (one presence query covers them all) and,
        # per version, the objects that exist at it and the ones it adds
        "catalog": sorted(catalog.values(), key=lambda o: object_key(o)),
        "model": model,
    }


def object_key(obj: Dict[str, Any]) -> Tuple[str, str, str]:
    return (obj["kind"], obj["schema"], obj["name"])


def _label(key: Any) -> str:
    kind, schema, name = key
    return "%s %s.%s" % (kind, schema, name)


def migrations_adoption(plan: Dict[str, Any], present: Any, baseline_version: int = 0) -> Dict[str, Any]:
    """Judge the database's objects against the plan before anything is recorded.

    ``present``: the catalog objects found in the database (``[{"kind",
    "schema", "name"}]`` or ``[[kind, schema, name]]``).

    * ``hint``: the highest version whose objects (net of later drops and
      renames) all exist; 0 when not even version 1's do. Versions that add no
      object the role can see share the hint of the version before them
      (``hint_unsure`` lists them).
    * A database migrated by hand: objects that pending versions add already
      exist although the ledger does not record those versions -> error with
      the hint.
    * A baseline N: every object of versions 1..N must exist (``missing``) and
      none of those version N+1 adds may (``beyond``) -> error with the hint.
    """
    found = set()
    for obj in present or []:
        if isinstance(obj, dict):
            found.add(object_key(obj))
        else:
            found.add(tuple(obj))
    model = {m["version"]: m for m in plan.get("model", [])}
    hint = 0
    unsure: List[int] = []
    for version in sorted(model):
        net = [tuple(k) for k in model[version]["net"]]
        if all(k in found for k in net):
            hint = version
            if not model[version]["new"]:
                unsure.append(version)
    errors: List[str] = []
    result: Dict[str, Any] = {"hint": hint, "hint_unsure": [v for v in unsure if v == hint], "missing": [],
                              "beyond": [], "unrecorded": [], "errors": errors}

    def hint_text() -> str:
        if not hint:
            return "none of the versions' objects are all present, so no baseline fits; apply 001 by hand first or start from an empty database"
        text = "the highest version whose objects all exist is %03d: set migrations_baseline_version=%d" % (hint, hint)
        if result["hint_unsure"]:
            text += (" (version %03d adds no table, view, named index or function the role can check; compare it "
                     "with the database by hand)" % hint)
        return text

    recorded = {a["version"] for a in plan.get("applied", [])}
    if baseline_version:
        base = model.get(baseline_version)
        if base is None:
            return result
        missing = [tuple(k) for k in base["net"] if tuple(k) not in found]
        nxt = model.get(baseline_version + 1)
        beyond = [tuple(k) for k in (nxt["new"] if nxt else []) if tuple(k) in found]
        result["missing"] = [_label(k) for k in missing]
        result["beyond"] = [_label(k) for k in beyond]
        if missing:
            errors.append(
                "migrations_baseline_version is %d but %d object(s) that versions up to it create are missing: %s. "
                "The database is not at version %03d; %s. Nothing was changed."
                % (baseline_version, len(missing), ", ".join(_label(k) for k in missing[:10]), baseline_version,
                   hint_text()))
        if beyond:
            errors.append(
                "migrations_baseline_version is %d but %d object(s) that version %03d (%s) adds already exist: %s. "
                "The database is beyond version %03d; recording only 1..%d would make %s fail or run twice; %s. "
                "Nothing was changed."
                % (baseline_version, len(beyond), baseline_version + 1, nxt["name"],
                   ", ".join(_label(k) for k in beyond[:10]), baseline_version, baseline_version, nxt["name"],
                   hint_text()))
        return result

    unrecorded = []
    for version in sorted(model):
        if version in recorded:
            continue
        unrecorded += [(version, tuple(k)) for k in model[version]["new"] if tuple(k) in found]
    result["unrecorded"] = ["%s (%s)" % (_label(k), model[v]["name"]) for v, k in unrecorded[:20]]
    if unrecorded:
        errors.append(
            "%d object(s) that pending migrations create already exist although the ledger does not record those "
            "migrations, e.g. %s. The database was probably migrated by hand (psql); %s (the role verifies that "
            "every object of 1..N exists and none of N+1's, then records 1..N as applied). Nothing was changed."
            % (len(unrecorded), ", ".join(result["unrecorded"][:5]), hint_text()))
    return result
