"""Helpers for unit tests that evaluate the roles' own YAML with Ansible's templar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


def _trust(value: Any) -> Any:
    from ansible.template import trust_as_template

    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trust(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trust(v) for v in value]
    return value


def load_role_yaml(role: str, relpath: str) -> Any:
    """Load roles/ROLE/RELPATH as Ansible would, with its templates made renderable."""
    from ansible.parsing.dataloader import DataLoader

    return _trust(DataLoader().load_from_file(str(ROOT / "roles" / role / relpath)))


def render(value: Any, variables: dict) -> Any:
    """Template VALUE (from a role file) with VARIABLES, as a task would see it."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    return Templar(loader=DataLoader(), variables=_trust(variables)).template(_trust(value))


@pytest.fixture()
def root() -> Path:
    return ROOT
