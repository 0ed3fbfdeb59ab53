"""PostgreSQL client programs run inside the database container.

psql, pg_dump and pg_restore run through `docker exec` on the container's local
socket (trusted, as in the official image): client and server versions always match
and no password is stored on the host. SQL comes from files in SQL_DIR.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional

from .config import Config
from .errors import BackupError

Rows = List[List[str]]
PSQL_FLAGS = ["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]


def split_rows(text: str) -> Rows:
    return [line.split("\t") for line in text.splitlines() if line]


class Database:
    """One database server (a container) and the database the program works on."""

    def __init__(self, cfg: Config, database: Optional[str] = None) -> None:
        self.docker = cfg["DOCKER"]
        self.container = cfg["CONTAINER"]
        self.database = database or cfg["DATABASE"]
        self.user = cfg["DB_SUPERUSER"]
        self.sql_dir = Path(cfg["SQL_DIR"])

    # -- plumbing
    def exec_args(self, *args: str, stdin: bool = False) -> List[str]:
        cmd = [self.docker, "exec"]
        if stdin:
            cmd.append("-i")
        return cmd + [self.container] + list(args)

    def sql_file(self, name: str) -> str:
        path = self.sql_dir / name
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BackupError(f"cannot read SQL file {path}: {exc.strerror}") from None

    def check_running(self) -> None:
        try:
            result = subprocess.run(
                [self.docker, "inspect", "--format", "{{.State.Status}}", self.container],
                capture_output=True, text=True, check=False,
            )
        except FileNotFoundError:
            raise BackupError(f"docker client {self.docker!r} not found") from None
        if result.returncode != 0 or result.stdout.strip() != "running":
            state = result.stdout.strip() or result.stderr.strip() or "unknown"
            raise BackupError(
                f"database container {self.container!r} is not running (state: {state}); start it "
                f"(docker compose up -d in the project directory) and retry"
            )

    # -- SQL
    def psql(self, sql: str, database: Optional[str] = None,
             variables: Optional[Dict[str, str]] = None) -> Rows:
        """Run SQL through psql in the container; return rows (tab separated fields)."""
        target = database or self.database
        args = ["psql", *PSQL_FLAGS, "-U", self.user, "-d", target]
        for key, value in (variables or {}).items():
            args += ["-v", f"{key}={value}"]
        args += ["-f", "-"]
        result = subprocess.run(self.exec_args(*args, stdin=True), input=sql,
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BackupError(f"psql failed on database {target}: {result.stderr.strip()}")
        return split_rows(result.stdout)

    def run_file(self, name: str, database: Optional[str] = None,
                 variables: Optional[Dict[str, str]] = None) -> Rows:
        """Run the SQL file NAME (from SQL_DIR) on DATABASE; return its rows."""
        return self.psql(self.sql_file(name), database=database, variables=variables)

    # -- dump and restore
    def pg_dump(self, out: BinaryIO, snapshot: str, compress: int, lock_wait: int) -> None:
        result = subprocess.run(
            self.exec_args("pg_dump", "-U", self.user, "-d", self.database,
                           "--format=custom", f"--compress={compress}",
                           f"--lock-wait-timeout={lock_wait}s", f"--snapshot={snapshot}"),
            stdout=out, stderr=subprocess.PIPE, check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_dump exited with {result.returncode}: "
                              f"{result.stderr.decode(errors='replace').strip()}")

    def pg_restore(self, dump: Path, target: str) -> None:
        with dump.open("rb") as source:
            result = subprocess.run(
                self.exec_args("pg_restore", "-U", self.user, "-d", target,
                               "--exit-on-error", "--no-password", stdin=True),
                stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
            )
        if result.returncode != 0:
            raise BackupError(f"pg_restore into {target} failed: "
                              f"{result.stderr.decode(errors='replace').strip()}")

    def create_database(self, name: str) -> None:
        self.psql(f'CREATE DATABASE "{name}";', database="postgres")

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);', database="postgres")

    def list_databases(self) -> List[str]:
        return [row[0] for row in self.psql("SELECT datname FROM pg_database ORDER BY 1;",
                                            database="postgres")]

    def open_snapshot_session(self) -> "SnapshotSession":
        return SnapshotSession(self)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)


class SnapshotSession:
    """A psql session holding a REPEATABLE READ transaction with an exported snapshot.

    pg_dump runs with --snapshot so the dump, the row counts, the fingerprints and the
    recorded migration version all see exactly the same data, even while writers run.
    """

    MARKER = "__ms5_backup_end__"

    def __init__(self, db: Database) -> None:
        self.db = db
        args = ["psql", *PSQL_FLAGS, "-U", db.user, "-d", db.database]
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            db.exec_args(*args, stdin=True), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )

    def query(self, sql: str) -> Rows:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + self.MARKER + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        rows = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise BackupError(f"psql session on {self.db.database} ended: {err.strip()}")
            line = line.rstrip("\n")
            if line == self.MARKER:
                return rows
            if line:
                rows.append(line.split("\t"))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("COMMIT;\n\\q\n")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
