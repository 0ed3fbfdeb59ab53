# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache-2.0 (see galaxy.yml)
"""Filters of the ``migrations`` role, a thin entry point over module_utils:

* ``migrations_scanner``: the SQL scanner and its one rule list;
* ``migrations_planner``: the plan (files, ledger, baseline) and adoption;
* ``migrations_script``: the SQL that applies one file with its ledger row;
* ``migrations_errors``: the database's error read out of a failed result.
"""

from __future__ import annotations

from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_errors import migrations_db_error
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_planner import (
    migrations_adoption,
    migrations_plan,
)
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_scanner import (
    created_objects,
    forbidden_statements,
)
from ansible_collections.ms5.factory_telemetry.plugins.module_utils.migrations_script import migrations_script


class FilterModule(object):
    """Filters of the migrations role."""

    def filters(self):
        return {
            "migrations_plan": migrations_plan,
            "migrations_adoption": migrations_adoption,
            "migrations_script": migrations_script,
            "migrations_db_error": migrations_db_error,
            "migrations_created_objects": created_objects,
            "migrations_forbidden_statements": forbidden_statements,
        }
