"""Unit tests for plugins/filter/timescaledb_tuning.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "timescaledb_tuning.py"
_SPEC = importlib.util.spec_from_file_location("timescaledb_tuning", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
tuning = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tuning)

MB = 1024 * 1024
GB = 1024 * MB


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4G", 4 * GB),
        ("4g", 4 * GB),
        ("512M", 512 * MB),
        ("512MB", 512 * MB),
        ("512MiB", 512 * MB),
        ("1.5G", 1536 * MB),
        ("1024k", MB),
        ("2048", 2048),
        ("100b", 100),
        ("100B", 100),
        ("2gb", 2 * GB),
        ("1T", 1024 * GB),
        (1073741824, GB),
    ],
)
def test_parse_size_accepts_docker_sizes(value, expected):
    assert tuning.timescaledb_parse_size(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "G", "4X", "4 GB extra", "-1G", "0", "0G", "4GG", "1e3", "5i", None, True, 0, -5, 4.0, ["4G"], "4,5G",
     # Docker's syntax strictly: no spaces, no unit without a number, no "i" without "b".
     "4 GB", "4  GB", " 1G", "1G ", "1 G", "4\tG", "4Gi", "4bb", "4kbb", "4Kib ", "1.G", ".5G", "1.5.2G", "4B G", "4G\n"],
)
def test_parse_size_rejects_malformed(value):
    assert tuning.timescaledb_parse_size(value) is None


def test_tuning_ci_values_1g():
    settings = tuning.timescaledb_tuning("1G", max_connections=100, cpus=2, max_background_workers=8)
    assert settings == {
        "shared_buffers": "256MB",
        "effective_cache_size": "768MB",
        "maintenance_work_mem": "64MB",
        "work_mem": "2621kB",
        "max_connections": "100",
        "max_worker_processes": "13",
        "max_parallel_workers": "2",
        "max_parallel_workers_per_gather": "1",
        "timescaledb.max_background_workers": "8",
    }


def test_tuning_default_4g():
    settings = tuning.timescaledb_tuning("4G")
    assert settings["shared_buffers"] == "1024MB"
    assert settings["effective_cache_size"] == "3072MB"
    assert settings["maintenance_work_mem"] == "256MB"


def test_tuning_caps_maintenance_work_mem_at_2gb():
    assert tuning.timescaledb_tuning("64G")["maintenance_work_mem"] == "2048MB"


def test_tuning_work_mem_shrinks_with_connections():
    few = tuning.timescaledb_tuning("4G", max_connections=20)["work_mem"]
    many = tuning.timescaledb_tuning("4G", max_connections=500)["work_mem"]
    assert int(few[:-2]) > int(many[:-2])


def test_tuning_work_mem_never_below_postgres_minimum():
    assert tuning.timescaledb_tuning("64M", max_connections=10000)["work_mem"] == "64kB"


def test_tuning_workers_follow_cpus():
    settings = tuning.timescaledb_tuning("8G", cpus=8, max_background_workers=16)
    assert settings["max_parallel_workers"] == "8"
    assert settings["max_parallel_workers_per_gather"] == "4"
    assert settings["max_worker_processes"] == "27"


def test_tuning_odd_size_rounds_down_to_megabytes():
    assert tuning.timescaledb_tuning("1000M")["shared_buffers"] == "250MB"
    assert tuning.timescaledb_tuning("1001M")["shared_buffers"] == "250MB"


@pytest.mark.parametrize("bad", ["lots", "", "16M", None])
def test_tuning_rejects_bad_limits(bad):
    with pytest.raises(ValueError):
        tuning.timescaledb_tuning(bad)


def test_tuning_rejects_bad_counts():
    with pytest.raises(ValueError):
        tuning.timescaledb_tuning("1G", max_connections=0)
    with pytest.raises(ValueError):
        tuning.timescaledb_tuning("1G", max_background_workers=0)


def test_filter_module_exports():
    filters = tuning.FilterModule().filters()
    assert set(filters) == {"timescaledb_parse_size", "timescaledb_tuning", "timescaledb_networks",
                            "timescaledb_invalid_cidrs", "timescaledb_scram_matches",
                            "timescaledb_role_converged"}


def test_networks_names_and_mappings_normalised():
    assert tuning.timescaledb_networks(["a", {"name": "b", "aliases": ["postgres"]}, {"name": "c"}]) == [
        {"name": "a", "aliases": []},
        {"name": "b", "aliases": ["postgres"]},
        {"name": "c", "aliases": []},
    ]
    assert tuning.timescaledb_networks([]) == []


@pytest.mark.parametrize("entry", [{"name": "b", "alias": "postgres"}, {"aliases": ["x"]}, 3, {"name": "b", "aliases": "postgres"}])
def test_networks_bad_entries_marked_invalid(entry):
    assert tuning.timescaledb_networks([entry]) == [{"name": None, "aliases": [], "invalid": entry}]


@pytest.mark.parametrize("good", [[], ["10.20.0.0/16"], ["192.168.1.7/32", "fd00::/64"], ("172.30.0.0/16",)])
def test_invalid_cidrs_accepts_networks(good):
    assert tuning.timescaledb_invalid_cidrs(good) == []


def test_invalid_cidrs_names_each_bad_entry():
    entries = ["10.0.0.0/8", "10.0.0.1/8", "10.0.0.0", "all", "samenet", " 10.1.0.0/16", "300.1.0.0/16", 42, None]
    assert tuning.timescaledb_invalid_cidrs(entries) == entries[1:]


def test_invalid_cidrs_rejects_a_non_list():
    assert tuning.timescaledb_invalid_cidrs("10.0.0.0/8") == ["10.0.0.0/8"]


# Verifiers made by PostgreSQL 17 (CREATE ROLE ... PASSWORD ...) for test-only passwords.
APP_VERIFIER = ("SCRAM-SHA-256$4096:Fu9qB9rfQdbNBNay//bmow==$QmwGbZtxMjT+RIMLc+qAkUQSk5XGpX27HDwdIrlL3qk="
                ":EK+DyNK3QWcjXbEWNE7BC/z4V1Yzp3T3Y+mVlBKFY20=")
UNICODE_VERIFIER = ("SCRAM-SHA-256$4096:Ss9VdJ0icLLIqX5xvQj4VQ==$jEp0pUYeIrlPLwbVRXGUcdMwEj9NKjL27Gd+RHGF7c0="
                    ":Itb9GiOfgXsZvVcU/gAskDQK6SmH2+t2hbcIJQKZPhk=")


def test_scram_matches_a_postgresql_verifier():
    assert tuning.timescaledb_scram_matches(APP_VERIFIER, "molecule-app-pw-0001") is True
    assert tuning.timescaledb_scram_matches(APP_VERIFIER, "molecule-app-pw-0002") is False


def test_scram_matches_after_saslprep_normalisation():
    # PostgreSQL prepared "pä-ﬁ-sswörd-12345" (with the "fi" ligature) as "pä-fi-sswörd-12345".
    assert tuning.timescaledb_scram_matches(UNICODE_VERIFIER, "pä-ﬁ-sswörd-12345") is True
    assert tuning.timescaledb_scram_matches(UNICODE_VERIFIER, "pä-fi-sswörd-12345") is True
    assert tuning.timescaledb_scram_matches(UNICODE_VERIFIER, "pa-fi-ssword-12345") is False


@pytest.mark.parametrize("verifier", [None, "", "md5" + "0" * 32, "SCRAM-SHA-256$4096:not base64!$x:y",
                                      APP_VERIFIER.replace("SCRAM-SHA-256", "SCRAM-SHA-1"), 42])
def test_scram_rejects_what_is_not_a_scram_verifier(verifier):
    assert tuning.timescaledb_scram_matches(verifier, "molecule-app-pw-0001") is False


APP_FLAGS = "LOGIN,NOSUPERUSER,NOCREATEDB,NOCREATEROLE,NOREPLICATION,NOBYPASSRLS,INHERIT"
APP_ROLE = {"login": True, "superuser": False, "createdb": False, "createrole": False, "replication": False,
            "bypassrls": False, "inherit": True, "password": APP_VERIFIER}


def test_role_converged_when_every_flag_and_the_password_match():
    assert tuning.timescaledb_role_converged(APP_ROLE, APP_FLAGS, "molecule-app-pw-0001") is True
    # Flags not named are not compared (the owner role's flags leave INHERIT out).
    assert tuning.timescaledb_role_converged({**APP_ROLE, "inherit": False}, APP_FLAGS.rsplit(",", 1)[0],
                                             "molecule-app-pw-0001") is True
    assert tuning.timescaledb_role_converged(APP_ROLE, " login , nosuperuser ", "molecule-app-pw-0001") is True


@pytest.mark.parametrize("change", [{"superuser": True}, {"login": False}, {"inherit": False}, {"bypassrls": True},
                                    {"password": "md5" + "0" * 32}, {"password": None}])
def test_role_not_converged_when_an_attribute_or_the_password_differs(change):
    assert tuning.timescaledb_role_converged({**APP_ROLE, **change}, APP_FLAGS, "molecule-app-pw-0001") is False


@pytest.mark.parametrize("current", [{}, None, "", []])
def test_role_not_converged_when_the_role_is_missing(current):
    assert tuning.timescaledb_role_converged(current, APP_FLAGS, "molecule-app-pw-0001") is False


def test_role_converged_rejects_an_unknown_flag():
    with pytest.raises(ValueError, match="NOLOGINN"):
        tuning.timescaledb_role_converged(APP_ROLE, "LOGIN,NOLOGINN", "molecule-app-pw-0001")
    assert tuning.timescaledb_role_converged(APP_ROLE, APP_FLAGS, "molecule-app-pw-0002") is False
