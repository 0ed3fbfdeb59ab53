"""Filters for the timescaledb role: memory sizes and PostgreSQL settings derived from them.

ms5.factory_telemetry.timescaledb_parse_size
    "4G" -> 4294967296. Docker/Compose size syntax, strictly (binary units, as in
    `docker run --memory`): an integer or decimal number followed directly by an
    optional unit b, k, m, g, t, p, the unit optionally followed by b or ib ("512M",
    "512MB", "512MiB", "1.5g"); any case. No spaces anywhere: Docker itself reads
    "4 GB" as 4G, but a size written two ways changes the compose file (and recreates
    the container) for nothing, so only one spelling is accepted. An int is bytes.
    Returns None when the value is not a well-formed positive size, so a role can
    assert with its own message.

ms5.factory_telemetry.timescaledb_scram_matches
    True when a PostgreSQL password verifier (pg_authid.rolpassword,
    "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>") was made from a
    password, so the role can tell a converged password from one to set without
    logging in or printing either.

ms5.factory_telemetry.timescaledb_role_converged
    True when a login role as the database reports it (a mapping of its attributes
    login, superuser, createdb, createrole, replication, bypassrls, inherit and its
    password verifier, as pg_authid holds them) already is what
    community.postgresql.postgresql_user would make of the same role_attr_flags string
    ("LOGIN,NOSUPERUSER,...") and password, so the task can be skipped. Used by the
    timescaledb role for its three roles and the monitoring role for the exporter's.

ms5.factory_telemetry.timescaledb_invalid_cidrs
    The entries of a list that are not IPv4/IPv6 networks in CIDR notation
    ("10.20.0.0/16", "fd00::/64"; host bits must be zero), for a role's assert.

ms5.factory_telemetry.timescaledb_tuning
    PostgreSQL settings derived from a container memory limit (bytes), in the spirit of
    timescaledb-tune / PGTune: shared_buffers 25 %, effective_cache_size 75 %,
    maintenance_work_mem 1/16 (at most 2 GB), work_mem from max_connections, worker
    counts from the CPU count. Values use the units PostgreSQL prints with SHOW.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import unicodedata
from typing import Any

DOCUMENTATION = ""  # documented above and in roles/timescaledb/README.md

_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:([kmgtp])(i?b)?|(b))?", re.IGNORECASE)
_UNIT_POWER = {None: 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}

KB = 1024
MB = 1024 * KB
GB = 1024 * MB


def timescaledb_parse_size(value: Any) -> int | None:
    """Parse a Docker-style memory size into bytes; None if malformed or not positive."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if not isinstance(value, str):
        return None
    match = _SIZE_RE.fullmatch(value)
    if match is None:
        return None
    number, unit, _suffix, _bytes = match.groups()
    power = _UNIT_POWER[unit.lower() if unit else None]
    size = int(float(number) * (1024**power))
    return size if size > 0 else None


def _mb(value: int) -> str:
    return f"{value // MB}MB"


def _kb(value: int) -> str:
    return f"{value // KB}kB"


def timescaledb_tuning(
    memory_limit: Any,
    max_connections: int = 100,
    cpus: int = 2,
    max_background_workers: int = 8,
) -> dict[str, str]:
    """Return PostgreSQL settings (name -> value string) for a container memory limit.

    memory_limit is a size string ("4G") or bytes. Raises ValueError on bad input, so a
    template never silently renders a broken configuration.
    """
    limit = timescaledb_parse_size(memory_limit)
    if limit is None:
        raise ValueError(f"timescaledb_tuning: {memory_limit!r} is not a memory size such as 4G or 512M")
    max_connections = int(max_connections)
    cpus = max(1, int(cpus))
    max_background_workers = int(max_background_workers)
    if max_connections < 1:
        raise ValueError("timescaledb_tuning: max_connections must be at least 1")
    if max_background_workers < 1:
        raise ValueError("timescaledb_tuning: max_background_workers must be at least 1")

    if limit < 32 * MB:
        raise ValueError(f"timescaledb_tuning: memory limit {memory_limit!r} is below 32 MB")

    shared_buffers = limit // 4 // MB * MB
    effective_cache_size = limit * 3 // 4 // MB * MB
    maintenance_work_mem = min(2 * GB, max(MB, limit // 16 // MB * MB))
    parallel_per_gather = max(1, cpus // 2)
    # Memory left after shared_buffers, shared by every connection running up to a
    # few sort/hash nodes each (and their parallel workers); at least 64kB (PG minimum).
    work_mem = (limit - shared_buffers) // (max_connections * 3) // parallel_per_gather
    work_mem = max(64 * KB, work_mem)

    return {
        "shared_buffers": _mb(shared_buffers),
        "effective_cache_size": _mb(effective_cache_size),
        "maintenance_work_mem": _mb(maintenance_work_mem),
        "work_mem": _kb(work_mem),
        "max_connections": str(max_connections),
        "max_worker_processes": str(max(8, max_background_workers + cpus + 3)),
        "max_parallel_workers": str(cpus),
        "max_parallel_workers_per_gather": str(parallel_per_gather),
        "timescaledb.max_background_workers": str(max_background_workers),
    }


def timescaledb_scram_matches(verifier: Any, password: Any) -> bool:
    """True when VERIFIER (SCRAM-SHA-256, as PostgreSQL stores it) matches PASSWORD.

    Anything else (no verifier, an md5 hash, a malformed value) is False, so the
    caller sets the password again (as scram-sha-256).
    """
    if not isinstance(verifier, str) or not isinstance(password, str):
        return False
    match = re.fullmatch(r"SCRAM-SHA-256\$([0-9]+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)", verifier)
    if match is None:
        return False
    iterations, salt, stored_key, server_key = match.groups()
    try:
        salt_bytes = base64.b64decode(salt, validate=True)
        stored = base64.b64decode(stored_key, validate=True)
        server = base64.b64decode(server_key, validate=True)
    except ValueError:
        return False
    # PostgreSQL applies SASLprep to the password; for ASCII passwords it is the
    # identity, NFKC is its normalisation step for the rest.
    prepared = password if password.isascii() else unicodedata.normalize("NFKC", password)
    salted = hashlib.pbkdf2_hmac("sha256", prepared.encode("utf-8"), salt_bytes, int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored) and hmac.compare_digest(
        hmac.new(salted, b"Server Key", hashlib.sha256).digest(), server)


# role_attr_flags keyword -> the attribute's name in the role mapping (pg_roles/pg_authid).
_ROLE_FLAGS = {"LOGIN": "login", "SUPERUSER": "superuser", "CREATEDB": "createdb",
               "CREATEROLE": "createrole", "REPLICATION": "replication", "BYPASSRLS": "bypassrls",
               "INHERIT": "inherit"}


def timescaledb_role_converged(current: Any, flags: str, password: Any) -> bool:
    """True when the role CURRENT exists with every attribute FLAGS names set as named
    ("LOGIN" true, "NOSUPERUSER" false, ...) and a SCRAM verifier made from PASSWORD.

    An empty or missing CURRENT (no such role), another attribute value or any other
    verifier is False, so the caller sets the role. A flag outside the attributes above
    is a ValueError (a typo must not read as converged).
    """
    if not isinstance(current, dict) or not current:
        return False
    for flag in (item.strip().upper() for item in str(flags).split(",") if item.strip()):
        keyword = flag[2:] if flag.startswith("NO") and flag[2:] in _ROLE_FLAGS else flag
        if keyword not in _ROLE_FLAGS:
            raise ValueError(f"unknown role attribute flag {flag!r} (known: {', '.join(_ROLE_FLAGS)})")
        if current.get(_ROLE_FLAGS[keyword]) != (keyword == flag):
            return False
    return timescaledb_scram_matches(current.get("password"), password)


def timescaledb_invalid_cidrs(value: Any) -> list[Any]:
    """Return the entries of VALUE that are not networks in CIDR notation.

    An entry must be a string "ADDRESS/PREFIX" whose host bits are zero (what
    pg_hba.conf means by it); a value that is not a list is returned whole.
    """
    if not isinstance(value, (list, tuple)):
        return [value]
    bad: list[Any] = []
    for entry in value:
        if not isinstance(entry, str) or "/" not in entry or entry != entry.strip():
            bad.append(entry)
            continue
        try:
            ipaddress.ip_network(entry, strict=True)
        except ValueError:
            bad.append(entry)
    return bad


def timescaledb_networks(value: Any) -> list[dict[str, Any]]:
    """Normalise timescaledb_extra_networks: each entry a network name or a mapping
    {name: NAME, aliases: [ALIAS, ...]}, returned as [{"name": ..., "aliases": [...]}].

    Entries of another shape are returned as {"name": None, "aliases": [], "invalid": entry}
    so that the role's preflight can name them in its message.
    """
    result: list[dict[str, Any]] = []
    for entry in value or []:
        if isinstance(entry, str):
            result.append({"name": entry, "aliases": []})
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str) and set(entry) <= {"name", "aliases"} \
                and isinstance(entry.get("aliases", []), list) \
                and all(isinstance(a, str) for a in entry.get("aliases", [])):
            result.append({"name": entry["name"], "aliases": list(entry.get("aliases", []))})
        else:
            result.append({"name": None, "aliases": [], "invalid": entry})
    return result


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "timescaledb_parse_size": timescaledb_parse_size,
            "timescaledb_tuning": timescaledb_tuning,
            "timescaledb_networks": timescaledb_networks,
            "timescaledb_invalid_cidrs": timescaledb_invalid_cidrs,
            "timescaledb_scram_matches": timescaledb_scram_matches,
            "timescaledb_role_converged": timescaledb_role_converged,
        }
