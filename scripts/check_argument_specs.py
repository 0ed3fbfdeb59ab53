#!/usr/bin/env python3
"""Check that every role's defaults/main.yml and meta/argument_specs.yml agree.

Every public variable in defaults must be described in argument_specs (with a
description and a type), and every argument_specs option without a default in
defaults must be required. Exit 1 with one line per problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def load_yaml(path: Path) -> dict:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def role_problems(role_dir: Path) -> list[str]:
    """Return the drift problems of one role directory."""
    role = role_dir.name
    defaults = load_yaml(role_dir / "defaults" / "main.yml")
    specs_file = role_dir / "meta" / "argument_specs.yml"
    if not specs_file.exists():
        return [f"{role}: meta/argument_specs.yml is missing"]
    specs = load_yaml(specs_file).get("argument_specs", {})
    options: dict = {}
    for entry in specs.values():
        options.update((entry or {}).get("options") or {})
    problems = []
    for name in defaults:
        if name not in options:
            problems.append(f"{role}: {name} is in defaults/main.yml but not in meta/argument_specs.yml")
    for name, spec in options.items():
        spec = spec or {}
        if not name.startswith(f"{role}_"):
            problems.append(f"{role}: option {name} does not carry the role prefix {role}_")
        if not spec.get("description"):
            problems.append(f"{role}: option {name} has no description")
        if not spec.get("type"):
            problems.append(f"{role}: option {name} has no type")
        if name not in defaults and not spec.get("required"):
            problems.append(f"{role}: option {name} has no default in defaults/main.yml and is not required")
        if name in defaults and spec.get("required"):
            problems.append(f"{role}: option {name} is required but also has a default")
    return problems


def main(argv: list[str]) -> int:
    roles_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "roles"
    problems: list[str] = []
    for role_dir in sorted(p for p in roles_dir.iterdir() if p.is_dir()):
        problems.extend(role_problems(role_dir))
    for line in problems:
        print(line)
    if not problems:
        print(f"argument_specs and defaults agree for every role in {roles_dir}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
