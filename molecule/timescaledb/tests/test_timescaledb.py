"""Verify the timescaledb role: the outcome users care about, not that tasks ran."""

from __future__ import annotations

import importlib.util
import json
import shlex
import time
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[1]
CONTAINER = "ms5-timescaledb"
PROJECT = "/opt/ms5-backend"
COMPOSE_FILE = f"{PROJECT}/docker-compose.yml"

_SPEC = importlib.util.spec_from_file_location("timescaledb_tuning", REPO / "plugins/filter/timescaledb_tuning.py")
assert _SPEC is not None and _SPEC.loader is not None
tuning = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tuning)

CONVERGE_VARS = yaml.safe_load((SCENARIO / "vars" / "converge.yml").read_text())


@pytest.fixture(scope="module")
def inventory(host):
    """The scenario's inventory variables (test passwords, image)."""
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def passwords(inventory):
    return {
        name: inventory[name]
        for name in (
            "timescaledb_superuser_password",
            "timescaledb_owner_password",
            "timescaledb_app_password",
            "timescaledb_readonly_password",
        )
    }


def inspect(host, name: str = CONTAINER) -> dict:
    result = host.run(f"docker inspect {shlex.quote(name)}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def tcp_query(host, user: str, password: str, query: str, port: int = 5432):
    """Run QUERY from the host over TCP 127.0.0.1 with psycopg2 (what users do)."""
    script = (
        "import json, sys, psycopg2\n"
        "conn = psycopg2.connect(host='127.0.0.1', port=int(sys.argv[1]), dbname='factory_telemetry',"
        " user=sys.argv[2], password=sys.stdin.readline().rstrip('\\n'), connect_timeout=10)\n"
        "conn.autocommit = True\n"
        "cur = conn.cursor()\n"
        "cur.execute(sys.argv[3])\n"
        "print(json.dumps(cur.fetchall() if cur.description else [], default=str))\n"
    )
    cmd = (
        f"printf '%s\\n' {shlex.quote(password)} | python3 -c {shlex.quote(script)} "
        f"{port} {shlex.quote(user)} {shlex.quote(query)}"
    )
    return host.run(cmd)


def wait_healthy(host, timeout: int = 120) -> str:
    status = ""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = inspect(host)["State"].get("Health", {}).get("Status", "")
        if status == "healthy":
            return status
        time.sleep(2)
    return status


def test_container_is_healthy_and_restarts_unless_stopped(host):
    data = inspect(host)
    assert data["State"]["Running"]
    assert wait_healthy(host) == "healthy"
    assert data["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert data["Config"]["StopSignal"] == "SIGINT"
    assert data["Config"]["Image"] == host.ansible.get_variables()["timescaledb_image"]


def test_memory_limit_and_reservation(host):
    data = inspect(host)
    assert data["HostConfig"]["Memory"] == tuning.timescaledb_parse_size(CONVERGE_VARS["timescaledb_memory_limit"])
    assert data["HostConfig"]["MemoryReservation"] == tuning.timescaledb_parse_size(
        CONVERGE_VARS["timescaledb_memory_reservation"]
    )


def test_changing_the_memory_limit_recreated_the_container(host):
    """prepare ran with 1G/512M and recorded the container; converge set 1536M/768M."""
    before = json.loads(host.file("/root/ms5-molecule-prepare.json").content_string)
    assert before["memory"] == tuning.timescaledb_parse_size("1G")
    assert before["reservation"] == tuning.timescaledb_parse_size("512M")
    assert inspect(host)["Id"] != before["id"]


def test_extra_network_joined_besides_the_default(host):
    networks = set(inspect(host)["NetworkSettings"]["Networks"])
    assert networks == {"ms5-timescaledb_default", *(n["name"] for n in CONVERGE_VARS["timescaledb_extra_networks"])}


def test_alias_answers_on_the_extra_network(host):
    """Another container on the extra network reaches the database under its alias `postgres`."""
    image = inspect(host)["Config"]["Image"]
    result = host.run(
        f"docker run --rm --network ms5-molecule-extra --entrypoint pg_isready {shlex.quote(image)} "
        "-h postgres -p 5432 -t 10"
    )
    assert result.rc == 0, result.stdout + result.stderr


def test_service_moved_from_the_legacy_project_name(host):
    """prepare ran the service as project ms5-backend (the last release); converge moved it."""
    before = json.loads(host.file("/root/ms5-molecule-prepare.json").content_string)
    assert before["project"] == "ms5-backend"
    labels = inspect(host)["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == "ms5-timescaledb"
    assert labels["com.docker.compose.project.config_files"] == COMPOSE_FILE
    legacy = host.check_output("docker ps -a -q --filter label=com.docker.compose.project=ms5-backend")
    assert legacy == ""
    assert host.run("docker network inspect ms5-backend_default").rc != 0, "the old project's network is left"
    assert host.check_output("docker volume ls -q --filter name=ms5-timescaledb-data") == "ms5-timescaledb-data"


def test_previous_compose_file_kept(host):
    previous = host.file(f"{COMPOSE_FILE}.previous")
    assert previous.exists
    assert previous.user == "root"
    assert "timescaledb" in previous.content_string


def test_no_password_in_inspect_compose_file_or_process_list(host, passwords):
    inspect_out = host.run(f"docker inspect {CONTAINER}").stdout
    compose_out = host.file(COMPOSE_FILE).content_string
    ps_out = host.run("ps -eo args").stdout
    for name, password in passwords.items():
        assert password not in inspect_out, f"{name} visible in docker inspect"
        assert password not in compose_out, f"{name} in {COMPOSE_FILE}"
        assert password not in ps_out, f"{name} in the process list"
    assert "POSTGRES_PASSWORD_FILE=/run/secrets/" in inspect_out
    assert "POSTGRES_PASSWORD=" not in inspect_out


def test_secret_files_are_root_only(host, passwords):
    secrets_dir = host.file(f"{PROJECT}/secrets")
    assert secrets_dir.is_directory
    assert secrets_dir.user == "root"
    assert secrets_dir.mode == 0o700
    secret = host.file(f"{PROJECT}/secrets/superuser_password")
    assert secret.user == "root"
    assert secret.mode == 0o600
    assert secret.content_string == passwords["timescaledb_superuser_password"]
    assert host.file(f"{PROJECT}/backups").mode == 0o700
    assert host.file(f"{PROJECT}/init").is_directory


def test_port_published_on_loopback_only(host):
    bindings = inspect(host)["HostConfig"]["PortBindings"]
    assert bindings == {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5432"}]}
    listening = host.run("ss -Hltn 'sport = :5432'")
    if listening.rc == 0:  # iproute2 present: nothing on a non-loopback address
        for line in listening.stdout.splitlines():
            assert "127.0.0.1:5432" in line, line


def test_client_authentication_from_the_role_file_only(sql):
    """The server reads the role's pg_hba.conf, not the image's (with its "host all all all")."""
    assert sql("SHOW hba_file") == [["/etc/ms5-timescaledb/pg_hba.conf"]]
    rules = sql("SELECT type, array_to_string(database, ','), coalesce(address, ''), auth_method, coalesce(error, '') "
                "FROM pg_hba_file_rules ORDER BY line_number")
    assert all(r[4] == "" for r in rules), rules
    host_rules = [r for r in rules if r[0] == "host"]
    assert {r[2] for r in host_rules} == {"127.0.0.1", "::1", "samenet"}, host_rules
    assert {r[3] for r in host_rules} == {"scram-sha-256"}
    assert {(r[0], r[3]) for r in rules if r[0] == "local"} == {("local", "trust")}


def _probe_startup(host, source: str, target: str) -> str:
    """Open a PostgreSQL session to TARGET:5432 from the local address SOURCE ("-": any)
    and return the server's first answer: "AUTH 10" (asks for a SCRAM password) or
    "ERROR <code> <message>" (refused before any password)."""
    script = (
        "import socket, struct, sys\n"
        "src, dst = sys.argv[1], sys.argv[2]\n"
        "s = socket.socket()\n"
        "s.bind((src, 0)) if src != '-' else None\n"
        "s.settimeout(10)\n"
        "s.connect((dst, 5432))\n"
        "body = struct.pack('!I', 196608) + b'user\\x00ms5_app\\x00database\\x00factory_telemetry\\x00\\x00'\n"
        "s.sendall(struct.pack('!I', len(body) + 4) + body)\n"
        "kind = s.recv(1)\n"
        "payload = s.recv(struct.unpack('!I', s.recv(4))[0] - 4)\n"
        "if kind == b'R':\n"
        "    print('AUTH', struct.unpack('!I', payload[:4])[0])\n"
        "else:\n"
        "    f = dict((x[:1].decode(), x[1:].decode()) for x in payload.split(b'\\x00') if x)\n"
        "    print('ERROR', f.get('C'), f.get('M'))\n"
    )
    result = host.run(f"python3 -c {shlex.quote(script)} {shlex.quote(source)} {shlex.quote(target)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def test_password_logins_only_from_the_joined_networks(host):
    """A host address on none of the service's networks is refused by pg_hba.conf; the
    gateway of its default network (what the published port arrives from) is asked
    for a SCRAM password."""
    container_ip = inspect(host)["NetworkSettings"]["Networks"]["ms5-timescaledb_default"]["IPAddress"]
    outside = host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -n1")
    refused = _probe_startup(host, outside, container_ip)
    assert refused.startswith("ERROR 28000 no pg_hba.conf entry for host") and outside in refused, refused
    assert _probe_startup(host, "-", container_ip) == "AUTH 10"


def test_password_login_from_a_container_on_the_extra_network(host, passwords):
    """A backend on the extra network logs in under the alias `postgres` with its password."""
    image = inspect(host)["Config"]["Image"]
    script = "read -r PGPASSWORD; export PGPASSWORD; psql -X -At -h postgres -U ms5_app -d factory_telemetry -c 'SELECT current_user'"
    result = host.run(
        f"printf '%s\\n' {shlex.quote(passwords['timescaledb_app_password'])} | docker run --rm -i "
        f"--network ms5-molecule-extra --entrypoint sh {shlex.quote(image)} -c {shlex.quote(script)}"
    )
    assert result.rc == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ms5_app"


def test_extension_over_tcp_with_the_application_role(host, passwords):
    result = tcp_query(
        host,
        "ms5_app",
        passwords["timescaledb_app_password"],
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'",
    )
    assert result.rc == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 1 and rows[0][0].count(".") == 2


def test_wrong_password_is_refused_over_tcp(host):
    result = tcp_query(host, "ms5_app", "not-the-password-at-all", "SELECT 1")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_roles_use_scram_and_least_privilege(sql):
    rows = sql(
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, left(rolpassword, 14) FROM pg_authid "
        "WHERE rolname IN ('ms5_owner', 'ms5_app', 'ms5_reporting') ORDER BY rolname"
    )
    assert [r[0] for r in rows] == ["ms5_app", "ms5_owner", "ms5_reporting"]
    for _name, rolsuper, createdb, createrole, pw in rows:
        assert (rolsuper, createdb, createrole) == ("f", "f", "f")
        assert pw == "SCRAM-SHA-256$"
    owner = sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'factory_telemetry'")
    assert owner == [["ms5_owner"]]
    assert sql("SELECT extowner::regrole FROM pg_extension WHERE extname = 'timescaledb'") == [["postgres"]]


def test_application_role_writes_data_but_no_ddl(host, passwords):
    app = passwords["timescaledb_app_password"]
    ok = tcp_query(host, "ms5_app", app, "INSERT INTO molecule_probe.readings VALUES (now(), 'app-insert') RETURNING note")
    assert ok.rc == 0, ok.stderr
    ddl = tcp_query(host, "ms5_app", app, "CREATE TABLE molecule_probe.not_allowed (id int)")
    assert ddl.rc != 0 and "permission denied" in ddl.stderr
    ddl_public = tcp_query(host, "ms5_app", app, "CREATE TABLE public.not_allowed (id int)")
    assert ddl_public.rc != 0 and "permission denied" in ddl_public.stderr


def test_reporting_role_reads_only(host, passwords):
    ro = passwords["timescaledb_readonly_password"]
    read = tcp_query(host, "ms5_reporting", ro, "SELECT count(*) FROM molecule_probe.readings")
    assert read.rc == 0, read.stderr
    write = tcp_query(host, "ms5_reporting", ro, "INSERT INTO molecule_probe.readings VALUES (now(), 'nope')")
    assert write.rc != 0 and "permission denied" in write.stderr


def test_settings_derived_from_the_memory_limit(sql, host):
    cpus = int(host.run("nproc").stdout.strip())
    expected = tuning.timescaledb_tuning(
        CONVERGE_VARS["timescaledb_memory_limit"], max_connections=100, cpus=cpus, max_background_workers=8
    )
    assert expected["shared_buffers"] == "384MB"  # 25 % of 1536M
    for name in ("shared_buffers", "effective_cache_size", "maintenance_work_mem", "work_mem", "max_connections",
                 "timescaledb.max_background_workers"):
        assert sql(f"SHOW {name}") == [[expected[name]]], name
    assert sql("SHOW timescaledb.license") == [["apache"]] or not host.ansible.get_variables()[
        "timescaledb_image"
    ].startswith("ms5-test-")


def test_database_encoding_and_collation(sql):
    rows = sql("SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = 'factory_telemetry'")
    assert rows == [["UTF8", "C"]]


def test_data_survives_compose_down_and_up(host, sql):
    sql("INSERT INTO molecule_probe.readings VALUES (now(), 'before-down')")
    down = host.run(f"docker compose --project-directory {PROJECT} down")
    assert down.rc == 0, down.stderr
    assert host.run(f"docker inspect {CONTAINER}").rc != 0
    up = host.run(f"docker compose --project-directory {PROJECT} up -d --wait")
    assert up.rc == 0, up.stderr
    assert wait_healthy(host) == "healthy"
    notes = {row[0] for row in sql("SELECT note FROM molecule_probe.readings")}
    assert {"written-in-prepare", "before-down"} <= notes


def test_check_mode_on_converged_host_changes_nothing(check_mode_recap):
    recap, output = check_mode_recap
    assert recap["rc"] == 0, output[-3000:]
    assert recap.get("changed", -1) == 0, output[-3000:]
    assert recap.get("failed", -1) == 0, output[-3000:]
