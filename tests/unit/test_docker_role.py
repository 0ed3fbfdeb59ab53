"""The docker role's Ubuntu and Debian paths, through a real play with each platform's facts.

No apt archive is reachable in CI and the test host is Debian 13, so the Ubuntu paths
cannot be installed for real. Instead a real ansible-playbook run (tests/unit/plays/
docker_platforms.yml) runs the role's own validate.yml on the controller with the
faked facts of each platform and records what the install step would install: the
packages of the chosen source and Docker's apt repository (URL, suite, component,
architecture, key), or the role's refusal with its message. Nothing here evaluates
the role's YAML by other means than Ansible itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAY = ROOT / "tests" / "unit" / "plays" / "docker_platforms.yml"

PLATFORMS = {
    "ubuntu2204": {"distribution": "Ubuntu", "distribution_version": "22.04", "distribution_major_version": "22",
                   "distribution_release": "jammy", "os_family": "Debian", "architecture": "x86_64"},
    "ubuntu2404": {"distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24",
                   "distribution_release": "noble", "os_family": "Debian", "architecture": "aarch64"},
    "debian12": {"distribution": "Debian", "distribution_version": "12.11", "distribution_major_version": "12",
                 "distribution_release": "bookworm", "os_family": "Debian", "architecture": "x86_64"},
    "debian13": {"distribution": "Debian", "distribution_version": "13.1", "distribution_major_version": "13",
                 "distribution_release": "trixie", "os_family": "Debian", "architecture": "x86_64"},
    "ubuntu2004": {"distribution": "Ubuntu", "distribution_version": "20.04", "distribution_major_version": "20",
                   "distribution_release": "focal", "os_family": "Debian", "architecture": "x86_64"},
    "debian11": {"distribution": "Debian", "distribution_version": "11.9", "distribution_major_version": "11",
                 "distribution_release": "bullseye", "os_family": "Debian", "architecture": "x86_64"},
    "centos9": {"distribution": "CentOS", "distribution_version": "9", "distribution_major_version": "9",
                "distribution_release": "stream", "os_family": "RedHat", "architecture": "x86_64"},
    "ubuntu2404_riscv": {"distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24",
                         "distribution_release": "noble", "os_family": "Debian", "architecture": "riscv64"},
}

PIN = "5:27.5.1-1~ubuntu.24.04~noble"

CASES = {
    "ubuntu2204 official": ("ubuntu2204", {"docker_install_source": "official"}),
    "ubuntu2404 official": ("ubuntu2404", {"docker_install_source": "official"}),
    "ubuntu2404 official pinned": ("ubuntu2404", {"docker_install_source": "official", "docker_version": PIN}),
    "ubuntu2204 official mirror": ("ubuntu2204", {"docker_install_source": "official",
                                                  "docker_repo_url": "https://mirror.example/docker"}),
    "debian12 official": ("debian12", {"docker_install_source": "official"}),
    "debian13 official": ("debian13", {"docker_install_source": "official"}),
    "ubuntu2204 distro": ("ubuntu2204", {"docker_install_source": "distro"}),
    "ubuntu2404 distro": ("ubuntu2404", {"docker_install_source": "distro"}),
    "ubuntu2404 distro without python": ("ubuntu2404", {"docker_install_source": "distro",
                                                        "docker_install_python_requirements": "false"}),
    "debian13 distro": ("debian13", {"docker_install_source": "distro"}),
    "debian12 distro": ("debian12", {"docker_install_source": "distro"}),
    "debian13 distro pinned": ("debian13", {"docker_install_source": "distro", "docker_version": PIN}),
    "ubuntu2004 official": ("ubuntu2004", {"docker_install_source": "official"}),
    "debian11 official": ("debian11", {"docker_install_source": "official"}),
    "centos9 official": ("centos9", {"docker_install_source": "official"}),
    "ubuntu2404 official riscv64": ("ubuntu2404_riscv", {"docker_install_source": "official"}),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """Run the play once for every case; return {case name: result}."""
    out = tmp_path_factory.mktemp("docker-role") / "results.json"
    cases = [{"name": name, "facts": PLATFORMS[platform], "vars": variables}
             for name, (platform, variables) in CASES.items()]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    proc = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(PLAY),
         "-e", json.dumps({"ms5_cases": cases, "ms5_results_file": str(out),
                           "ansible_python_interpreter": sys.executable})],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data) == set(CASES)
    return data


@pytest.mark.parametrize(
    "case,distro,codename,arch",
    [("ubuntu2204 official", "ubuntu", "jammy", "amd64"), ("ubuntu2404 official", "ubuntu", "noble", "arm64"),
     ("debian12 official", "debian", "bookworm", "amd64"), ("debian13 official", "debian", "trixie", "amd64")],
)
def test_official_repository_per_platform(results, case, distro, codename, arch):
    result = results[case]
    assert result["ok"], result
    repo = result["repository"]
    assert repo["uris"] == f"https://download.docker.com/linux/{distro}"
    assert repo["suites"] == [codename]
    assert repo["components"] == ["stable"]
    assert repo["architectures"] == [arch]
    assert repo["signed_by"] == f"https://download.docker.com/linux/{distro}/gpg"
    assert repo["types"] == ["deb"]
    assert result["packages"] == ["docker-ce", "docker-ce-cli", "containerd.io", "docker-buildx-plugin",
                                  "docker-compose-plugin", "python3-requests"]
    # deb822_repository needs python3-debian on the host; HTTPS needs the CA bundle.
    assert result["prerequisites"] == ["ca-certificates", "python3-debian"]


def test_official_packages_with_version_pin(results):
    packages = results["ubuntu2404 official pinned"]["packages"]
    assert f"docker-ce={PIN}" in packages
    assert f"docker-ce-cli={PIN}" in packages
    assert "docker-compose-plugin" in packages


def test_mirror_url_moves_key_too(results):
    repo = results["ubuntu2204 official mirror"]["repository"]
    assert repo["uris"] == "https://mirror.example/docker/ubuntu"
    assert repo["signed_by"] == "https://mirror.example/docker/ubuntu/gpg"


@pytest.mark.parametrize(
    "case,packages",
    [("ubuntu2204 distro", ["docker.io", "docker-compose-v2", "python3-requests"]),
     ("ubuntu2404 distro", ["docker.io", "docker-compose-v2", "python3-requests"]),
     ("ubuntu2404 distro without python", ["docker.io", "docker-compose-v2"]),
     ("debian13 distro", ["docker.io", "docker-compose", "python3-requests"])],
)
def test_distro_packages(results, case, packages):
    result = results[case]
    assert result["ok"], result
    assert result["packages"] == packages
    assert result["repository"] is None


def test_debian12_distro_source_is_refused(results):
    result = results["debian12 distro"]
    assert not result["ok"]
    assert "Debian 12 has no Compose v2 package of its own" in result["msg"]
    assert "docker_install_source: official" in result["msg"]


def test_version_pin_with_distro_source_is_refused(results):
    result = results["debian13 distro pinned"]
    assert not result["ok"]
    assert "docker_version" in result["msg"] and "docker_install_source: distro" in result["msg"]


@pytest.mark.parametrize("case,shown", [("ubuntu2004 official", "Ubuntu 20.04"), ("debian11 official", "Debian 11"),
                                        ("centos9 official", "CentOS 9")])
def test_unsupported_platforms_are_refused_with_the_supported_list(results, case, shown):
    result = results[case]
    assert not result["ok"]
    assert result["msg"].startswith(f"The docker role does not support {shown}"), result["msg"]
    assert "Ubuntu 22.04, 24.04" in result["msg"] and "Debian 12, 13" in result["msg"]


def test_architecture_without_docker_packages_is_refused(results):
    result = results["ubuntu2404 official riscv64"]
    assert not result["ok"]
    assert "no packages for riscv64" in result["msg"]
