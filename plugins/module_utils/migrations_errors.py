# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""Reading the database's error out of a failed postgresql_query result.

``migrations_db_error`` reduces the module's message (which repeats the whole
script) to PostgreSQL's own error with its LINE context, and classifies it:
a concurrent run that applied the version first, or a lock timeout.
Unit-tested in tests/unit/test_migrations_plan.py.
"""

from __future__ import annotations

import re
from typing import Any, Dict

from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_script import CONCURRENT_MARKER


def migrations_db_error(message: Any, file_name: str = "") -> Dict[str, Any]:
    """Reduce a failed postgresql_query/postgresql_script result message to the database's own
    error (with its LINE/position context) and classify it."""
    text = str(message or "")
    # postgresql_query: "Cannot execute SQL '<sql>' None: <error>, query list: ['<sql>']"
    # postgresql_script: "Cannot execute SQL '<sql>' None: <error>"
    cut = text.rfind(", query list: [")
    if cut >= 0:
        text = text[:cut]
    m = re.search(r"' (?:None|\[.*?\]|\{.*?\}): (.*)\Z", text, re.S)
    db = m.group(1) if m else text
    db = db.strip()
    concurrent = CONCURRENT_MARKER in db
    lock_timeout = "canceling statement due to lock timeout" in db
    line_m = re.search(r"^LINE (\d+):", db, re.M)
    return {
        "message": db,
        "line": int(line_m.group(1)) if line_m else None,
        "concurrent": concurrent,
        "lock_timeout": lock_timeout,
        "file": file_name,
    }


