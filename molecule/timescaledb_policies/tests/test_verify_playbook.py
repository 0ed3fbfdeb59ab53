"""playbooks/verify.yml and the deployment report on this instance (runs after
test_timescaledb_policies.py, which left the retention job's status file failed).

- job health reads the host jobs' status files: a failed ms5-retention run fails
  verify.yml and is listed by the report; after a good run it passes;
- the newest verified backup comes from `<backup program> --status` (the contract of
  the backup role's ms5-backup; a stand-in prints it here, the backup role's
  scenarios run the real program): too old fails, fresh passes;
- the storage criterion projects the plan's volume against its budget, compression
  is N/A on the Apache edition, and the sample's sequences are put back.
"""

from __future__ import annotations

import json
import os
import re
import shlex

import pytest

from conftest import run_playbook

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.getcwd())
VERIFY = os.path.join(PROJECT, "playbooks", "verify.yml")
REPORT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "report.yml")
PROBE = "/usr/local/sbin/ms5-backup-status-probe"
PROBE_JSON = "/tmp/ms5-backup-status.json"
# Shared CI cores: a smaller sample and the latency threshold relaxed as in the
# default scenario (the thresholds themselves are unit-tested and tested to fail there).
FAST = ("-e", "ms5_target_hosts=all", "-e", "verify_query_max_ms=2000", "-e", "verify_sample_hours=0.5",
        "-e", "verify_query_runs=2", "-e", "verify_ingest_rows=5000", "-e", f"verify_backup_program={PROBE}")
SEQUENCES = ("SELECT string_agg(c.relname || '=' || coalesce(pg_sequence_last_value(c.oid)::text, 'null'), ',' "
             "ORDER BY c.relname) FROM pg_class c WHERE c.relkind = 'S' "
             "AND c.relnamespace = 'factory_telemetry'::regnamespace")


def backup_entry(name: str, age_seconds: int, verified: bool = True) -> dict:
    return {"file": f"/opt/ms5-backend/backups/{name}", "kind": "scheduled", "created_at": "2026-11-29T02:15:00Z",
            "age_seconds": age_seconds, "size_bytes": 123456,
            "verified": {"result": "ok", "level": "fingerprints", "at": "2026-11-29T02:16:00Z"} if verified else None}


def install_status_probe(host, status: dict) -> None:
    """A stand-in for `ms5-backup --status`: prints STATUS (the backup role's contract)."""
    script = f"#!/bin/sh\n[ \"$1\" = --status ] || exit 2\ncat {PROBE_JSON}\n"
    host.run_expect([0], f"printf '%s' {shlex.quote(script)} > {PROBE} && chmod 0755 {PROBE} && "
                         f"printf '%s' {shlex.quote(json.dumps(status))} > {PROBE_JSON}")


def flat(output: str) -> str:
    """The output with every run of whitespace as one space (the result callback folds long lines)."""
    return " ".join(output.split())


def criteria(output: str) -> dict[str, str]:
    """{criterion name: PASS/FAIL/N/A} from the printed criteria lines."""
    found = {}
    for status, name in re.findall(r"(PASS|FAIL|N/A) +([a-z][a-z ()]+?): ", flat(output)):
        found.setdefault(name.strip(), status)
    return found


@pytest.fixture(scope="module")
def failing_run(host):
    """verify.yml with the retention job's last run failed and a three-day-old verified backup."""
    install_status_probe(host, {"newest": backup_entry("b_new.dump", 3600, verified=False),
                                "newest_verified": backup_entry("b_old.dump", 3 * 86400), "last_attempt": None})
    return run_playbook(VERIFY, *FAST)


def test_failed_host_job_and_old_backup_fail_verify(failing_run):
    rc, _, out = failing_run
    out = flat(out)
    assert rc != 0, out[-3000:]
    found = criteria(out)
    assert found["job health"] == "FAIL", found
    assert "host job retention: last run failed" in out and "consecutive failure(s)" in out
    assert found["newest verified backup"] == "FAIL"
    assert "b_old.dump" in out and "newest backup /opt/ms5-backend/backups/b_new.dump" in out and "not verified" in out
    assert "success criteria failed: " in out and "job health" in out.split("success criteria failed: ")[1][:200]


def test_report_lists_failing_jobs_and_backups(host, failing_run):
    rc, recap, out = run_playbook(REPORT, "-e", f"verify_backup_program={PROBE}")
    out = flat(out)
    assert rc == 0 and recap.get("changed", 0) == 0, out[-3000:]
    assert "FAILING JOBS (1):" in out and "host job retention: last run failed" in out
    assert "newest backup: /opt/ms5-backend/backups/b_new.dump (scheduled, 1.0 h old" in out
    assert "newest verified backup: /opt/ms5-backend/backups/b_old.dump (scheduled, 72.0 h old" in out
    assert "backup criterion of verify.yml: FAIL (the newest verified backup must be younger than 26 h)" in out


ROLLUPS = """
SET ROLE ms5_owner;
CREATE SCHEMA ms5_rollups;
CREATE TABLE ms5_rollups.catalog (relation text PRIMARY KEY, source_table text NOT NULL, bucket interval NOT NULL);
CREATE TABLE ms5_rollups.metric_1d (bucket date NOT NULL, metric_def_id bigint NOT NULL, avg_value double precision);
INSERT INTO ms5_rollups.metric_1d SELECT current_date - g, 1, g FROM generate_series(1, 500) AS g;
CREATE TABLE ms5_rollups.metric_1h (bucket timestamptz NOT NULL, metric_def_id bigint NOT NULL, avg_value double precision);
SELECT create_hypertable('ms5_rollups.metric_1h', by_range('bucket', INTERVAL '7 days'));
INSERT INTO ms5_rollups.metric_1h SELECT now() - make_interval(hours => g), 1, g FROM generate_series(1, 500) AS g;
INSERT INTO ms5_rollups.catalog VALUES
    ('ms5_rollups.metric_1d', 'factory_telemetry.metric_hist', '1 day'),
    ('ms5_rollups.metric_1h', 'factory_telemetry.metric_hist', '1 hour'),
    ('ms5_rollups.not_deployed', 'factory_telemetry.metric_hist', '1 week');
"""


def test_after_a_good_run_and_a_fresh_backup_verify_passes(host, sql, failing_run):
    assert host.run("systemctl start ms5-retention.service").rc == 0
    # rollups as the rollups role lists them (a plain table and a hypertable; a listed
    # relation that does not exist is skipped): their size is printed beside the storage
    sql(ROLLUPS)
    install_status_probe(host, {"newest": backup_entry("b_fresh.dump", 600),
                                "newest_verified": backup_entry("b_fresh.dump", 600), "last_attempt": None})
    sequences = sql(SEQUENCES)
    # --tags verify_run alone: validates first (tagged always), then measures
    rc, recap, out = run_playbook(VERIFY, *FAST, "--tags", "verify_run")
    out = flat(out)
    assert rc == 0, out[-3000:]
    assert recap.get("changed", 0) == 0
    found = criteria(out)
    assert found["job health"] == "PASS" and found["newest verified backup"] == "PASS", found
    assert found["compression"] == "N/A" and "apache edition of TimescaleDB has no compression" in out
    # storage: a month of the plan's 100,000 records a day against its 1 GB, the plant beside it
    assert found["storage per month (plan volume)"] == "PASS"
    assert re.search(r"100000 records/day x 30 days at \d+ B/row \(uncompressed, apache edition\)", out), out[-3000:]
    assert found["projected storage per month"] == "PASS"
    m = re.search(r"rollups now [0-9.]+ [KMG]?i?B \(ms5_rollups\.metric_1d [0-9.]+ [KMG]?i?B, "
                  r"ms5_rollups\.metric_1h [0-9.]+ [KMG]?i?B\)", out)
    assert m, out[-3000:]
    sql("DROP SCHEMA ms5_rollups CASCADE")
    # the sample was rolled back and the sequences it advanced put back
    assert re.search(r"sequences put back: [1-9]", out), out[-3000:]
    assert sql(SEQUENCES) == sequences
    assert sql("SELECT count(*) FROM factory_telemetry.metric_def WHERE equipment_code = 'MS5-VERIFY-EQ'") == [["0"]]


def test_storage_budget_too_small_fails(failing_run):
    rc, _, out = run_playbook(VERIFY, *FAST, "-e", "verify_storage_max_gb_per_month=0.001",
                              "-e", "verify_fail_on_criteria=false")
    assert rc == 0, out[-3000:]
    assert criteria(out)["storage per month (plan volume)"] == "FAIL"
