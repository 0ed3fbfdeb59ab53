# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""Filters for the rollups role's validate.yml (no database needed).

rollups_errors: the problems of a rollups_definitions value (names, intervals,
aggregates, hierarchy: a bucket its source's bucket does not divide, a retention
shorter than the source's, unknown sources), given the raw tables' known retention;
empty when valid.
rollups_retention_from_policies: {table: drop_after} from a
timescaledb_policies_hypertables value.
"""

from __future__ import annotations

from ansible_collections.ms5.factory_telemetry.plugins.module_utils.rollups import (
    retention_from_policies,
    validation_errors,
)


def rollups_errors(definitions, source_retention=None):
    """Validation messages for a rollups_definitions value."""
    return validation_errors(definitions, source_retention or {})


def rollups_retention_from_policies(hypertables):
    """{schema.table: drop_after or None} of a timescaledb_policies_hypertables value."""
    return retention_from_policies(hypertables)


class FilterModule:
    """ms5.factory_telemetry.rollups_errors, ms5.factory_telemetry.rollups_retention_from_policies"""

    def filters(self):
        return {
            "rollups_errors": rollups_errors,
            "rollups_retention_from_policies": rollups_retention_from_policies,
        }
