# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""Filters for the timescaledb_policies role's preflight (no database needed).

timescaledb_policies_errors: list of problems in a timescaledb_policies_hypertables
value (bad interval, bad column or table name, unknown keys, duplicate tables,
retention not longer than compression); empty when the list is valid.
"""

from __future__ import annotations

from ansible_collections.ms5.factory_telemetry.plugins.module_utils.timescaledb_policies import (
    validation_errors,
)


def timescaledb_policies_errors(hypertables):
    """Validation messages for a timescaledb_policies_hypertables value."""
    return validation_errors(hypertables)


class FilterModule:
    """ms5.factory_telemetry.timescaledb_policies_errors"""

    def filters(self):
        return {"timescaledb_policies_errors": timescaledb_policies_errors}
