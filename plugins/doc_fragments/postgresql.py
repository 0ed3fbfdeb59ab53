# -*- coding: utf-8 -*-
# Copyright: MS5.0 infrastructure team
# Apache License 2.0 (see galaxy.yml)
"""Documentation shared by the collection's database modules: community.postgresql's
login options (module_utils/ms5_postgres.py) plus the database option and the note on
the action group."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  login_db:
    description: Database name.
    type: str
    required: true
    aliases: [db]
attributes:
  check_mode:
    support: full
notes:
  - Login options and the connection are community.postgresql's (C(module_utils/postgres.py)); the module is in the
    action group C(ms5.factory_telemetry.postgresql), which extends C(community.postgresql.all), so one
    C(module_defaults) entry sets the login for it and every community.postgresql task.
"""
