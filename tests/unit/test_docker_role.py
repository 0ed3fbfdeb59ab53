"""The docker role's Ubuntu and Debian paths, evaluated from the role's own files.

No apt archive is reachable in CI, so these tests render the role's task arguments and
preflight conditions with the facts of each supported platform and check the result:
Docker's repository URL, codename, architecture and key; the distribution packages;
and the refusal of unsupported platforms.
"""

from __future__ import annotations

import pytest

from conftest import load_role_yaml, render

PLATFORMS = {
    "ubuntu2204": {"distribution": "Ubuntu", "distribution_version": "22.04",
                   "distribution_major_version": "22", "distribution_release": "jammy",
                   "architecture": "x86_64"},
    "ubuntu2404": {"distribution": "Ubuntu", "distribution_version": "24.04",
                   "distribution_major_version": "24", "distribution_release": "noble",
                   "architecture": "aarch64"},
    "debian12": {"distribution": "Debian", "distribution_version": "12.11",
                 "distribution_major_version": "12", "distribution_release": "bookworm",
                 "architecture": "x86_64"},
    "debian13": {"distribution": "Debian", "distribution_version": "13.1",
                 "distribution_major_version": "13", "distribution_release": "trixie",
                 "architecture": "x86_64"},
}


def role_vars(facts: dict, **overrides) -> dict:
    variables = {}
    variables.update(load_role_yaml("docker", "defaults/main.yml"))
    variables.update(load_role_yaml("docker", "vars/main.yml"))
    variables.update(load_role_yaml("docker", f"vars/{facts['distribution']}.yml"))
    variables.update(overrides)
    variables["ansible_facts"] = facts
    return variables


def task(path: str, module: str) -> dict:
    for t in load_role_yaml("docker", path):
        if module in t:
            return t
    raise AssertionError(f"no {module} task in {path}")


def preflight_results(facts: dict, **overrides) -> dict[str, bool]:
    """Evaluate preflight asserts in order, as Ansible does: stop at the first failure.

    Returns {task name: all conditions true} for the asserts that were reached.
    """
    variables = role_vars(facts, **overrides) if facts["distribution"] in ("Ubuntu", "Debian") else {
        **load_role_yaml("docker", "defaults/main.yml"), **load_role_yaml("docker", "vars/main.yml"),
        **overrides, "ansible_facts": facts}
    results = {}
    for t in load_role_yaml("docker", "tasks/preflight.yml"):
        if "ansible.builtin.assert" in t:
            conds = t["ansible.builtin.assert"]["that"]
            results[t["name"]] = all(render("{{ " + c + " }}", variables) for c in conds)
            if not results[t["name"]]:
                break
    return results


@pytest.mark.parametrize(
    "platform,codename,arch",
    [("ubuntu2204", "jammy", "amd64"), ("ubuntu2404", "noble", "arm64"),
     ("debian12", "bookworm", "amd64"), ("debian13", "trixie", "amd64")],
)
def test_official_repository_per_platform(platform, codename, arch):
    facts = PLATFORMS[platform]
    repo = render(task("tasks/install_official.yml", "ansible.builtin.deb822_repository")
                  ["ansible.builtin.deb822_repository"], role_vars(facts))
    distro = facts["distribution"].lower()
    assert repo["uris"] == f"https://download.docker.com/linux/{distro}"
    assert repo["suites"] == [codename]
    assert repo["components"] == ["stable"]
    assert repo["architectures"] == [arch]
    assert repo["signed_by"] == f"https://download.docker.com/linux/{distro}/gpg"


def test_official_packages_with_version_pin():
    facts = PLATFORMS["ubuntu2404"]
    pin = "5:27.5.1-1~ubuntu.24.04~noble"
    packages = render("{{ _docker_official_packages }}", role_vars(facts, docker_version=pin))
    assert f"docker-ce={pin}" in packages
    assert f"docker-ce-cli={pin}" in packages
    assert "docker-compose-plugin" in packages
    unpinned = render("{{ _docker_official_packages }}", role_vars(facts))
    assert "docker-ce" in unpinned


def test_mirror_url_moves_key_too():
    facts = PLATFORMS["ubuntu2204"]
    repo = render(task("tasks/install_official.yml", "ansible.builtin.deb822_repository")
                  ["ansible.builtin.deb822_repository"],
                  role_vars(facts, docker_repo_url="https://mirror.example/docker"))
    assert repo["uris"] == "https://mirror.example/docker/ubuntu"
    assert repo["signed_by"] == "https://mirror.example/docker/ubuntu/gpg"


@pytest.mark.parametrize(
    "platform,packages",
    [("ubuntu2204", ["docker.io", "docker-compose-v2"]),
     ("ubuntu2404", ["docker.io", "docker-compose-v2"]),
     ("debian13", ["docker.io", "docker-compose"])],
)
def test_distro_packages(platform, packages):
    facts = PLATFORMS[platform]
    t = task("tasks/install_distro.yml", "ansible.builtin.apt")
    names = [t2 for t2 in load_role_yaml("docker", "tasks/install_distro.yml")
             if t2["name"].startswith("Install")][0]["ansible.builtin.apt"]["name"]
    rendered = render(names, role_vars(facts, docker_install_python_requirements=False))
    assert rendered == packages
    assert t  # the removal task exists too


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_supported_platforms_pass_preflight(platform):
    source = "official" if platform == "debian12" else "distro"
    results = preflight_results(PLATFORMS[platform], docker_install_source=source)
    assert all(results.values()), results


def test_debian12_distro_source_is_refused():
    results = preflight_results(PLATFORMS["debian12"], docker_install_source="distro")
    failed = [name for name, ok in results.items() if not ok]
    assert failed == ["Check that the distribution packages Compose v2 when docker_install_source is distro"]


@pytest.mark.parametrize(
    "facts",
    [{"distribution": "Ubuntu", "distribution_version": "20.04", "distribution_major_version": "20",
      "distribution_release": "focal", "architecture": "x86_64"},
     {"distribution": "Debian", "distribution_version": "11.9", "distribution_major_version": "11",
      "distribution_release": "bullseye", "architecture": "x86_64"}],
)
def test_old_releases_are_refused(facts):
    results = preflight_results(facts)
    assert results["Fail on an unsupported release"] is False


def test_unknown_distribution_is_refused_with_the_supported_list():
    facts = {"distribution": "CentOS", "distribution_version": "9", "distribution_major_version": "9",
             "distribution_release": "stream", "architecture": "x86_64"}
    results = preflight_results(facts)
    assert results["Fail on an unsupported distribution"] is False
    first = load_role_yaml("docker", "tasks/preflight.yml")[0]["ansible.builtin.assert"]["fail_msg"]
    variables = {**load_role_yaml("docker", "vars/main.yml"), "ansible_facts": facts}
    msg = render(first, variables)
    assert "CentOS" in msg and "Ubuntu 22.04, 24.04" in msg and "Debian 12, 13" in msg


def test_version_pin_with_distro_source_is_refused():
    results = preflight_results(PLATFORMS["debian13"], docker_install_source="distro",
                                docker_version="5:27.5.1-1~debian.13~trixie")
    assert results["Check that a version pin is only used with Docker's repository"] is False
