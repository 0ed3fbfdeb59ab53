"""make bench-cutover: the cutover's write pause and total time, for the test data and per GB.

Runs the data path of the cutover role (roles/cutover/files/ms5-cutover, the same
program the role stages on the host) between two throwaway containers on this
machine's Docker engine: a legacy PostgreSQL 15 (ms5-test-postgres15, built like the
plan's stack: migrations 001-009 by psql -f, so the time-series tables are plain)
holding MS5.0 history of the chosen size, and a TimescaleDB (ms5-test-timescaledb)
prepared as the timescaledb role does. A writer inserts one metric_hist row per
second into the legacy, as the backend does, until the pause, and into TimescaleDB
after it. Timed, per size:

  backup     pg_dump --format=custom of the legacy (the pre-migration backup)
  schema     pre-data restore and the six hypertables
  history    round 1: every history row up to now - 5 min (and the plain tables), with
             fingerprints on both sides
  indexes    post-data (indexes, constraints), the TimescaleDB-only objects, the
             comparison with the reference schema
  catch_up   round 2
  pause      writer stopped -> writer writing to TimescaleDB: the pause program
             (tail, plain tables, sequences, the proof), stopping the legacy, a restart
             of TimescaleDB (what the compose recreate costs) and a write through TCP

What the bench leaves out of the pause is the Ansible overhead of the role's tasks
around it (about a dozen tasks, see README: "Cutover ... Measured").

  bash scripts/bench-cutover.sh                      # 1,000,000 history rows
  bash scripts/bench-cutover.sh --scale 1 --scale 4  # two sizes: does the pause grow?
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "cutover" / "files" / "ms5-cutover"
DATA_SQL = Path(__file__).resolve().parent / "cutover_data.sql"
USER = "ms5_user_production"
DB = "factory_telemetry"
METRICS = 40  # metric definitions; 1,000,000 rows = 40 metrics x 25,000 seconds


def load_helper():
    loader = importlib.machinery.SourceFileLoader("ms5_cutover_bench", str(PROGRAM))
    spec = importlib.util.spec_from_loader("ms5_cutover_bench", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ms5_cutover_bench"] = module
    loader.exec_module(module)
    return module


def docker(*args: str, stdin: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {result.stderr.strip()}")
    return result


def psql(container: str, user: str, sql: str, variables: Optional[Dict[str, Any]] = None) -> str:
    args = ["exec", "-i", container, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", DB]
    for key, value in (variables or {}).items():
        args += ["-v", f"{key}={value}"]
    return docker(*args, "-f", "-", stdin=sql).stdout


def wait_ready(container: str, user: str, timeout: int = 180) -> None:
    deadline = time.time() + timeout
    while docker("exec", container, "pg_isready", "-q", "-h", "127.0.0.1", "-U", user, "-d", DB,
                 check=False).returncode != 0:
        if time.time() > deadline:
            raise RuntimeError(f"{container} did not accept connections in {timeout} s")
        time.sleep(0.5)


class Writer(threading.Thread):
    """The backend stand-in: one metric_hist row per second into ``container``."""

    def __init__(self, container: str, user: str) -> None:
        super().__init__(daemon=True)
        self.container = container
        self.user = user
        self.stop_event = threading.Event()
        self.ok = 0
        self.failed = 0

    def run(self) -> None:
        sql = ("INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_int) "
               "SELECT id, clock_timestamp(), 1 FROM factory_telemetry.metric_def WHERE equipment_code = 'BENCH'")
        while not self.stop_event.is_set():
            result = docker("exec", self.container, "psql", "-X", "-q", "-U", self.user, "-d", DB, "-c", sql,
                            check=False)
            if result.returncode == 0:
                self.ok += 1
            else:
                self.failed += 1
            self.stop_event.wait(1)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


def run_size(mc, scale: float, legacy_image: str, target_image: str, keep: bool) -> Dict[str, Any]:
    tag = f"ms5-bench-cutover-{os.getpid()}-{str(scale).replace('.', '_')}"
    legacy, target = f"{tag}-legacy", f"{tag}-target"
    work = Path(tempfile.mkdtemp(prefix="ms5-bench-cutover."))
    out: Dict[str, Any] = {"scale": scale, "history_rows_requested": int(scale * 1_000_000)}
    try:
        docker("run", "-d", "--name", legacy, "--network", "none", "-e", f"POSTGRES_USER={USER}", "-e", f"POSTGRES_DB={DB}",
               "-e", "POSTGRES_PASSWORD=bench-legacy-pw-0001",
               "-e", "POSTGRES_INITDB_ARGS=--encoding=UTF-8 --lc-collate=C --lc-ctype=C", legacy_image)
        docker("run", "-d", "--name", target, "--network", "none", "-e", f"POSTGRES_DB={DB}",
               "-e", "POSTGRES_PASSWORD=bench-target-pw-0001", "-e", "NO_TS_TUNE=true", target_image)
        wait_ready(legacy, USER)
        wait_ready(target, "postgres")
        for path in sorted((ROOT / "files" / "migrations").glob("00[1-9]_*.sql")):
            docker("exec", "-i", legacy, "psql", "-X", "-q", "-U", USER, "-d", DB, "-f", "-", stdin=path.read_text())
        seconds = max(1, int(scale * 1_000_000 / METRICS))
        started = time.time()
        psql(legacy, USER, DATA_SQL.read_text(), {"metrics": METRICS, "seconds": seconds, "days": 30})
        out["load_seconds"] = round(time.time() - started, 1)
        psql(target, "postgres", "CREATE ROLE ms5_owner LOGIN; ALTER DATABASE factory_telemetry OWNER TO ms5_owner; "
                                 "CREATE EXTENSION timescaledb;")
        sql_dir = work / "sql"
        shutil.copytree(ROOT / "roles/cutover/files/sql", sql_dir)
        shutil.copy(ROOT / "roles/_common/files/sql/table_fingerprint_range.sql", sql_dir)
        cfg = {"docker": "docker", "sql_dir": str(sql_dir), "run_dir": str(work / "run"),
               "reference_file": str(work / "reference.json"), "migrations_dir": str(ROOT / "files/migrations"),
               "baseline_version": 9, "tail_margin": "5 minutes", "sessions_timeout": 30,
               "legacy": {"container": legacy, "user": USER, "database": DB},
               "target": {"container": target, "superuser": "postgres", "database": DB, "owner": "ms5_owner",
                          "image": target_image}}
        out["database_bytes"] = int(psql(legacy, USER, "SELECT pg_database_size(current_database())").strip())
        writer = Writer(legacy, USER)
        writer.start()
        times: Dict[str, float] = {}

        def timed(name: str, func):
            t0 = time.time()
            value = func()
            times[name] = round(time.time() - t0, 2)
            return value

        total0 = time.time()
        dump = work / "legacy.dump"
        with open(dump, "wb") as handle:
            timed("backup", lambda: subprocess.run(["docker", "exec", legacy, "pg_dump", "-U", USER, "-d", DB,
                                                    "--format=custom", "--compress=6"], stdout=handle, check=True))
        out["backup_bytes"] = dump.stat().st_size
        ref = timed("reference", lambda: mc.Cutover(cfg).build_reference(target_image))
        Path(cfg["reference_file"]).write_text(json.dumps(ref))
        cfg["hypertables"] = mc.hypertables_of(ref["statements"])
        run = mc.Cutover(cfg)
        timed("schema", run.schema)
        round1 = timed("history", lambda: run.copy_round(1))
        post = timed("indexes", run.post_data)
        if post["missing"] or post["different"]:
            raise RuntimeError(f"schema differs from the reference: {post}")
        timed("catch_up", lambda: run.copy_round(2))
        pause0 = time.time()
        writer.stop()
        proof = timed("pause_program", run.pause)
        timed("pause_stop_legacy", lambda: docker("stop", "-t", "60", legacy))
        t0 = time.time()
        docker("restart", "-t", "60", target)
        wait_ready(target, "postgres")
        times["pause_restart_target"] = round(time.time() - t0, 2)
        timed("pause_write_check", lambda: psql(
            target, "postgres", "BEGIN; INSERT INTO factory_telemetry.metric_hist (metric_def_id, ts, value_int) "
                                "SELECT id, now(), 0 FROM factory_telemetry.metric_def ORDER BY id LIMIT 1; ROLLBACK;"))
        after = Writer(target, "postgres")
        after.start()
        times["pause"] = round(time.time() - pause0, 2)
        times["total"] = round(time.time() - total0, 2)
        time.sleep(3)
        after.stop()
        out.update(times=times, history_rows=round1["rows"], rows=proof["rows"], tail_rows=proof["tail_rows"],
                   whole_copies=proof["whole_copies"], writer_failed=writer.failed + after.failed,
                   writer_after_pause=after.ok)
        gb = out["database_bytes"] / 1024 ** 3
        out["per_gb"] = {"total_seconds": round(times["total"] / gb, 1),
                         "history_seconds": round(times["history"] / gb, 1),
                         "pause_program_seconds": round(times["pause_program"] / gb, 1)}
        return out
    finally:
        if not keep:
            docker("rm", "-f", "-v", legacy, target, check=False)
            shutil.rmtree(work, ignore_errors=True)


def report(results: List[Dict[str, Any]]) -> str:
    lines = ["size (MiB)  history rows  backup  history  indexes  catch-up  pause (program+stop+restart+write)"
             "  total   total/GB  tail rows"]
    for r in results:
        t = r["times"]
        lines.append(
            f"{r['database_bytes'] / 1048576:10.0f}  {r['history_rows']:12d}  {t['backup']:6.1f}  {t['history']:7.1f}"
            f"  {t['indexes']:7.1f}  {t['catch_up']:8.1f}  {t['pause']:5.1f} ({t['pause_program']:.1f}+"
            f"{t['pause_stop_legacy']:.1f}+{t['pause_restart_target']:.1f}+{t['pause_write_check']:.1f})"
            f"{'':16s}{t['total']:6.1f}  {r['per_gb']['total_seconds']:8.1f}  {r['tail_rows']:9d}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-cutover", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, action="append",
                        help="history size in millions of metric_hist rows (repeat for several sizes; default 1)")
    parser.add_argument("--legacy-image", default=os.environ.get("MS5_TEST_POSTGRES15_IMAGE", "ms5-test-postgres15:latest"))
    parser.add_argument("--target-image", default=os.environ.get("MS5_TEST_TIMESCALEDB_IMAGE", "ms5-test-timescaledb:latest"))
    parser.add_argument("--json", help="write the results as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the containers (debugging)")
    args = parser.parse_args(argv)
    mc = load_helper()
    load = os.getloadavg()
    results = []
    for scale in args.scale or [1.0]:
        print(f"bench-cutover: size {scale:g} M history rows ...", file=sys.stderr, flush=True)
        results.append(run_size(mc, scale, args.legacy_image, args.target_image, args.keep))
    load_after = os.getloadavg()
    print(report(results))
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} before, {load_after[0]:.1f} after")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "cpus": os.cpu_count(),
                                               "load_before": load, "load_after": load_after}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
