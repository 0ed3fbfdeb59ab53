#!/usr/bin/env bash
# make demo: deploy playbooks/site.yml into a throwaway local sandbox host and
# print the deployment report. Safe to re-run: the sandbox is created only when
# it is missing, and a second run converges with zero changes.
#
# The sandbox is a container from the Molecule host image (Debian 13, systemd
# as PID 1) with its own Docker engine inside, started with the same options as
# the Molecule platform (.config/molecule/config.yml). Remove it with
#   bash scripts/demo.sh --destroy
set -euo pipefail
cd "$(dirname "$0")/.."

SANDBOX="${MS5_SANDBOX_NAME:-ms5-sandbox}"
HOST_IMAGE="${MS5_TEST_HOST_IMAGE:-ms5-test-host-docker:latest}"
DB_IMAGE="${MS5_TEST_TIMESCALEDB_IMAGE:-ms5-test-timescaledb:latest}"
EXPORTER_IMAGE="ms5-test-postgres-exporter:latest"   # inventories/sandbox: monitoring_exporter_image
IMAGE_CACHE="${MS5_IMAGE_CACHE:-/var/cache/ms5-test-images}"
INVENTORY="inventories/sandbox/hosts.yml"
VENV="${VENV:-.venv}"

export PATH="$PWD/$VENV/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "--destroy" ]; then
  if docker container inspect "$SANDBOX" >/dev/null 2>&1; then
    docker rm -f -v "$SANDBOX" >/dev/null
    echo "demo: removed the sandbox container $SANDBOX and its volumes"
  else
    echo "demo: no sandbox container $SANDBOX"
  fi
  exit 0
fi

command -v ansible-playbook >/dev/null || die "ansible-playbook not found: run 'make setup' first"
[ -e .collections/ansible_collections/ms5/factory_telemetry ] || die "collection link missing: run 'make setup' first"
bash scripts/ensure-docker.sh
docker image inspect "$HOST_IMAGE" >/dev/null 2>&1 \
  || die "image $HOST_IMAGE not found: run 'make images' (or 'make setup')"

# The sandbox runs like a Molecule instance: its capabilities, security options,
# tmpfs and volumes are read from the shared Molecule platform, the one list.
mapfile -t caps < <(python3 - .config/molecule/config.yml <<'PY'
import sys
import yaml
platform = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))["platforms"][0]
for cap in platform["capabilities"]:
    print(cap)
PY
)
[ "${#caps[@]}" -gt 0 ] || die "no capabilities in .config/molecule/config.yml"

state="$(docker container inspect -f '{{.State.Status}}' "$SANDBOX" 2>/dev/null || true)"
case "$state" in
  running)
    log "sandbox $SANDBOX is running" ;;
  "")
    log "creating the sandbox container $SANDBOX from $HOST_IMAGE"
    cap_args=()
    for c in "${caps[@]}"; do cap_args+=(--cap-add "$c"); done
    mount_args=()
    if [ -d "$IMAGE_CACHE" ]; then
      mount_args+=(-v "$IMAGE_CACHE:/var/cache/ms5-test-images:ro")
    fi
    docker run -d --name "$SANDBOX" --hostname "$SANDBOX" \
      --label ms5.sandbox=true \
      "${cap_args[@]}" \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --tmpfs /run --tmpfs /run/lock \
      -v /var/lib/docker \
      "${mount_args[@]}" \
      "$HOST_IMAGE" /lib/systemd/systemd >/dev/null ;;
  *)
    log "starting the stopped sandbox $SANDBOX"
    docker start "$SANDBOX" >/dev/null ;;
esac

# systemd as PID 1 reports "degraded" in such a container (systemd-modules-load
# cannot load modules); both "running" and "degraded" mean booted.
for _ in $(seq 1 60); do
  st="$(docker exec "$SANDBOX" systemctl is-system-running 2>/dev/null || true)"
  case "$st" in running|degraded) break ;; esac
  sleep 1
done
case "$st" in
  running|degraded) ;;
  *) die "systemd in $SANDBOX did not finish booting (state: ${st:-unknown}); see 'docker logs $SANDBOX'" ;;
esac

# The host test image ships without apt package lists (a real server has them);
# apt's cache_valid_time would otherwise trust an empty cache.
if ! docker exec "$SANDBOX" sh -c 'ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1'; then
  log "fetching apt package lists in the sandbox"
  docker exec "$SANDBOX" apt-get update -qq
fi

# Registries are unreachable on these machines, so the database image has to be
# loaded into the sandbox's own engine. The shared Molecule prepare playbook does
# exactly that: the docker role, then the locally built TimescaleDB and
# postgres_exporter images from the image cache (mounted read-only into the sandbox).
if ! docker exec "$SANDBOX" docker image inspect "$DB_IMAGE" "$EXPORTER_IMAGE" >/dev/null 2>&1; then
  docker exec "$SANDBOX" test -r /var/cache/ms5-test-images/ms5-test-timescaledb.tar \
    || die "$IMAGE_CACHE/ms5-test-timescaledb.tar is missing or not mounted in $SANDBOX: run 'make images', then 'bash scripts/demo.sh --destroy' and 'make demo'"
  log "installing Docker in the sandbox and loading $DB_IMAGE and $EXPORTER_IMAGE into its engine"
  ansible-playbook -i "$INVENTORY" molecule/shared/prepare_docker.yml
  docker exec "$SANDBOX" docker image inspect "$DB_IMAGE" >/dev/null 2>&1 \
    || die "$DB_IMAGE is still missing inside $SANDBOX after loading"
  docker exec "$SANDBOX" docker image inspect "$EXPORTER_IMAGE" >/dev/null 2>&1 \
    || die "$EXPORTER_IMAGE is still missing inside $SANDBOX after loading"
fi

log "deploying playbooks/site.yml into $SANDBOX"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
started="$(date +%s.%N)"
set +e
ansible-playbook -i "$INVENTORY" playbooks/site.yml "$@" | tee "$out"
rc="${PIPESTATUS[0]}"
set -e
seconds="$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
[ "$rc" -eq 0 ] || die "site.yml failed (exit $rc) after ${seconds} s; the sandbox is left running for inspection ('bash scripts/demo.sh --destroy' removes it)"

log "recap"
sed -n '/^PLAY RECAP/,$p' "$out"
if grep -Eq 'changed=[1-9]' "$out"; then
  echo "demo: site.yml took ${seconds} s and changed the sandbox; run 'make demo' again: a converged host reports changed=0."
else
  echo "demo: converged, changed=0; the rerun of site.yml took ${seconds} s."
fi
cat <<MSG

Next steps:
  make demo                  # run again: zero changes
  ansible-playbook playbooks/backup.yml   # a verified backup now (cron makes one nightly)
  ansible-playbook playbooks/verify.yml   # the migration plan's success criteria (needs a verified backup)
  make bench                 # load benchmark against the sandbox database
  docker exec -it $SANDBOX docker exec -it ms5-timescaledb psql -U postgres -d factory_telemetry
  bash scripts/demo.sh --destroy           # remove the sandbox
MSG
