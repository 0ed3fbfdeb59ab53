"""Row counts and content fingerprints of every user table, and comparing them.

Counts come from sql/table_counts.sql; counts with fingerprints from
sql/table_fingerprints.sql, the collection's shared file (roles/_common), so every
"same data" proof compares alike.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

COUNTS_SQL = "table_counts.sql"
FINGERPRINTS_SQL = "table_fingerprints.sql"

Counts = Dict[str, int]
Fingerprints = Dict[str, str]


def sql_file_for(level: str) -> str:
    return FINGERPRINTS_SQL if level == "fingerprints" else COUNTS_SQL


def parse_counts(rows: Sequence[Sequence[str]]) -> Counts:
    return {f"{row[0]}.{row[1]}": int(row[2]) for row in rows}


def parse_table_state(rows: Sequence[Sequence[str]], level: str) -> Tuple[Counts, Optional[Fingerprints]]:
    """Rows of table_counts.sql (level counts) or table_fingerprints.sql -> (counts, fingerprints)."""
    counts = parse_counts(rows)
    if level != "fingerprints":
        return counts, None
    return counts, {f"{row[0]}.{row[1]}": row[3] for row in rows}


def compare_counts(expected: Counts, actual: Counts) -> List[str]:
    """Human-readable differences between two {table: rows} maps (empty = equal)."""
    problems = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            problems.append(f"{table}: missing after restore (expected {expected[table]} rows)")
        elif table not in expected:
            problems.append(f"{table}: not in the manifest ({actual[table]} rows)")
        elif expected[table] != actual[table]:
            problems.append(f"{table}: {actual[table]} rows, manifest says {expected[table]}")
    return problems


def compare_tables(expected: Counts, actual: Counts,
                   expected_fp: Optional[Fingerprints] = None,
                   actual_fp: Optional[Fingerprints] = None) -> List[str]:
    """Differences in row counts and, when both sides have them, content fingerprints."""
    problems = compare_counts(expected, actual)
    if expected_fp is not None and actual_fp is not None:
        for table in sorted(set(expected_fp) & set(actual_fp)):
            if expected_fp[table] != actual_fp[table] and expected.get(table) == actual.get(table):
                problems.append(f"{table}: same row count, different content (fingerprint "
                                f"{actual_fp[table]}, manifest says {expected_fp[table]})")
    return problems
