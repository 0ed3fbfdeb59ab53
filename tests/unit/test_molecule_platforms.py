"""The docker scenario repeats the shared Molecule platform with another image.

Molecule replaces lists when it merges a scenario's molecule.yml over the base
config, so the `docker` scenario (the only one on the bare host image, without
Docker preinstalled) has to state the whole platform. This test keeps it equal to
the base platform in everything but the image.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _platforms(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["platforms"]


def test_docker_scenario_platform_equals_base_but_image():
    base = _platforms(ROOT / ".config" / "molecule" / "config.yml")
    docker = _platforms(ROOT / "molecule" / "docker" / "molecule.yml")
    assert len(base) == len(docker) == 1
    base_image = base[0].pop("image")
    docker_image = docker[0].pop("image")
    assert base[0] == docker[0]
    assert "ms5-test-host-docker:latest" in base_image
    assert "ms5-test-host:latest" in docker_image


def test_no_other_scenario_overrides_the_platform():
    for molecule_yml in sorted((ROOT / "molecule").glob("*/molecule.yml")):
        if molecule_yml.parent.name == "docker":
            continue
        data = yaml.safe_load(molecule_yml.read_text(encoding="utf-8")) or {}
        assert "platforms" not in data, f"{molecule_yml} overrides the shared platform"
