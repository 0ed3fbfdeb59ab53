"""Which tables are "the user tables" is written out in four SQL files.

The backup manifest's row counts (backup table_counts.sql), the content fingerprints of a
backup, a restore and the cutover proof (_common table_fingerprints.sql) and the cutover's
discovery and write-pause column check (cutover tables.sql, table_columns.sql) must all
mean the same set of tables: a table one of them skipped would be copied, backed up or
compared without the others knowing. The files run through psql inside the database
container, where no shared include is at hand, so the predicate is repeated; this test
keeps the copies identical, word for word.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    ROOT / "roles" / "backup" / "files" / "sql" / "table_counts.sql",
    ROOT / "roles" / "_common" / "files" / "sql" / "table_fingerprints.sql",
    ROOT / "roles" / "cutover" / "files" / "sql" / "tables.sql",
    ROOT / "roles" / "cutover" / "files" / "sql" / "table_columns.sql",
]
# From the FROM of pg_class to the end of the extension-member exclusion.
PREDICATE = re.compile(r"FROM pg_class AS c\s.*?deptype = 'e'\s*\)", re.S)


def predicate(path: Path) -> str:
    text = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
    found = PREDICATE.findall(text)
    assert len(found) == 1, f"{path.relative_to(ROOT)}: expected one user-table predicate, found {len(found)}"
    # The fingerprint query joins its per-table read between FROM and WHERE.
    body = re.sub(r"CROSS JOIN LATERAL \(.*?\) AS r\s", "", found[0], flags=re.S)
    return " ".join(body.split())


@pytest.mark.parametrize("path", FILES[1:], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_copy_of_the_user_table_predicate_is_the_same(path):
    assert predicate(path) == predicate(FILES[0]), (
        f"{path.relative_to(ROOT)} selects other tables than {FILES[0].relative_to(ROOT)}; "
        "change the predicate in all four files together")


def test_the_predicate_skips_what_it_must():
    text = predicate(FILES[0])
    for clause in ("c.relkind IN ('r', 'p')", "NOT c.relispartition",
                   r"n.nspname NOT LIKE '\_timescaledb\_%'", r"n.nspname NOT LIKE 'timescaledb\_%'",
                   "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
                   "d.deptype = 'e'"):
        assert clause in text, clause
