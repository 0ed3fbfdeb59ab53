"""Filters behind roles/_common/tasks/file_state.yml: one read of the files and
directories a phase manages, then each file task runs only where its file differs.

ms5.factory_telemetry.file_state_index
    The registered result of _common/file_state.yml (or its stdout_lines, or an index
    already made, returned as it is). The lines printed by _common's file-state script ("<sha256|dir> <mode>:<uid>:<gid>:<owner>:<group> <path>",
    one per existing path) -> {path: {"checksum", "isdir", "mode", "uid", "gid", "owner", "group"}}.
    Paths that do not exist are absent. A "unit <is-enabled>:<is-active> unit:NAME" line (a
    systemd unit listed as unit:NAME) -> {"unit:NAME": {"enabled", "active"}}.

ms5.factory_telemetry.file_converged
    True when PATH in that index already is what a file or template task would make of it:
    same content (the rendered text, hashed here with SHA-256 as the script hashes the file;
    or checksum=, its SHA-256 when the caller has it already),
    or a directory when directory=True, and the same mode, owner and group (a name, or a
    numeric id). False whenever anything differs or is unknown, so the task then runs as
    usual (and reports, diffs and notifies as usual).

ms5.factory_telemetry.unit_running
    True when the systemd unit NAME (read as unit:NAME) is enabled and active, so the task
    that enables and starts it has nothing to do.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional, Union

DOCUMENTATION = ""  # documented above and in roles/_common/README.md


def file_state_index(state: Any) -> dict[str, dict[str, Any]]:
    if isinstance(state, dict):
        if "stdout_lines" in state:
            state = state["stdout_lines"]
        elif any(key in state for key in ("skipped", "rc", "failed", "changed", "msg")):
            return {}  # a skipped or failed read: nothing known
        else:
            return state
    index: dict[str, dict[str, Any]] = {}
    for line in state or []:
        parts = line.split(" ", 2)
        if len(parts) != 3:
            continue
        checksum, attributes, path = parts
        fields = attributes.split(":")
        if checksum == "unit" and len(fields) == 2:
            index[path] = {"enabled": fields[0], "active": fields[1]}
            continue
        if len(fields) != 5:
            continue
        mode, uid, gid, owner, group = fields
        index[path] = {
            "checksum": None if checksum == "dir" else checksum,
            "isdir": checksum == "dir",
            "mode": mode,
            "uid": uid,
            "gid": gid,
            "owner": owner,
            "group": group,
        }
    return index


def _same_id(have_name: str, have_id: str, want: Union[str, int]) -> bool:
    want = str(want)
    return want == have_id if want.isdigit() else want == have_name


def file_converged(index: dict[str, dict[str, Any]], path: str, mode: Union[str, int],
                   owner: Union[str, int] = "root", group: Union[str, int] = "root",
                   content: Optional[str] = None, directory: bool = False,
                   checksum: Optional[str] = None) -> bool:
    have = file_state_index(index or {}).get(path)
    if not have:
        return False
    try:
        want_mode = int(str(mode), 8)
        have_mode = int(have["mode"], 8)
    except (TypeError, ValueError):
        return False
    if want_mode != have_mode or not _same_id(have["owner"], have["uid"], owner) \
            or not _same_id(have["group"], have["gid"], group):
        return False
    if directory:
        return bool(have["isdir"])
    if have["isdir"]:
        return False
    if checksum is None:
        if content is None:
            return False
        checksum = hashlib.sha256(str(content).encode("utf-8", "surrogateescape")).hexdigest()
    return checksum == have["checksum"]


def unit_running(index: dict[str, dict[str, Any]], name: str) -> bool:
    have = file_state_index(index or {}).get("unit:" + name) or {}
    return have.get("enabled") == "enabled" and have.get("active") == "active"


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "file_state_index": file_state_index,
            "file_converged": file_converged,
            "unit_running": unit_running,
        }
