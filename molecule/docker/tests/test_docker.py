"""Verify the docker role: engine, Compose v2, daemon.json, group, a running container."""

import json
import time

IMAGE_TAR = "/var/cache/ms5-test-images/ms5-test-timescaledb.tar"
IMAGE = "ms5-test-timescaledb:latest"


def test_docker_service_enabled_and_running(host):
    svc = host.service("docker")
    assert svc.is_enabled
    assert svc.is_running


def test_compose_v2_available(host):
    out = host.check_output("docker compose version --short")
    assert out.lstrip("v").split(".")[0] == "2", out


def test_daemon_json_holds_configured_options(host):
    f = host.file("/etc/docker/daemon.json")
    assert f.mode == 0o644
    opts = json.loads(f.content_string)
    assert opts["log-driver"] == "json-file"
    assert opts["log-opts"] == {"max-size": "20m", "max-file": "5"}
    assert opts["live-restore"] is True
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True


def test_user_in_docker_group(host):
    assert "docker" in host.user("ms5ops").groups


def test_locally_loaded_image_runs_and_is_reachable(host):
    if IMAGE not in host.check_output("docker images --format '{{.Repository}}:{{.Tag}}'"):
        host.run_expect([0], f"docker load -i {IMAGE_TAR}")
    host.run("docker rm -f ms5-docker-probe")
    host.run_expect(
        [0],
        "docker run -d --name ms5-docker-probe -e POSTGRES_PASSWORD=probe-only-pw "
        f"-p 127.0.0.1:15432:5432 {IMAGE}",
    )
    try:
        deadline = time.time() + 90
        ready = None
        while time.time() < deadline:
            ready = host.run("docker exec ms5-docker-probe pg_isready -h 127.0.0.1 -q")
            if ready.rc == 0:
                break
            time.sleep(2)
        assert ready is not None and ready.rc == 0, "container never became ready"
        # Reachable from the host through the published port.
        probe = host.run(
            "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1', 15432), 5); "
            "s.sendall(b'\\x00\\x00\\x00\\x08\\x04\\xd2\\x16\\x2f'); print(s.recv(1))\""
        )
        assert probe.rc == 0, probe.stderr
        assert probe.stdout.strip() in ("b'N'", "b'S'"), probe.stdout
    finally:
        host.run("docker rm -f ms5-docker-probe")


def test_check_mode_on_converged_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output[-3000:]
    assert recap.get("changed", -1) == 0, output[-3000:]
    assert recap.get("failed", -1) == 0, output[-3000:]
