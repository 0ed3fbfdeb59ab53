#!/usr/bin/env bash
# make bench [ARGS="--days 1 --lines 4 ..."]: the MS5.0 load benchmark (bench/ms5bench).
#
# By default it runs inside the sandbox host (make demo first), next to its database,
# as the owner role with the sandbox's throwaway password (from a 0600 pgpass file,
# never on a command line). With --local it runs from this machine against any
# database, using the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD or a
# pgpass file). The JSON report is saved in bench/results/.
#   make bench ARGS="--help"
#   bash scripts/bench.sh --local --host db1.example --user ms5_owner
set -euo pipefail
cd "$(dirname "$0")/.."

SANDBOX="${MS5_SANDBOX_NAME:-ms5-sandbox}"
VAULT="inventories/sandbox/group_vars/ms5_database/vault.yml"
VENV="${VENV:-.venv}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p bench/results
out="bench/results/bench-$stamp.json"

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

for a in "$@"; do
  case "$a" in -h|--help) PYTHONPATH=bench python3 -m ms5bench --help; exit 0 ;; esac
done

if [ "${1:-}" = "--local" ]; then
  shift
  py="$VENV/bin/python"
  [ -x "$py" ] || py=python3
  PYTHONPATH=bench "$py" -m ms5bench --json "$out" "$@"
  echo "bench: JSON report: $out"
  exit 0
fi

[ "$(docker container inspect -f '{{.State.Running}}' "$SANDBOX" 2>/dev/null || true)" = "true" ] \
  || die "the sandbox $SANDBOX is not running: run 'make demo' first (or use --local against another database)"
docker exec "$SANDBOX" python3 -c 'import psycopg2' 2>/dev/null \
  || die "python3-psycopg2 is missing in $SANDBOX: run 'make demo' (the timescaledb role installs it)"

password="$("$VENV/bin/python" - "$VAULT" <<'PY'
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as fh:
    print(yaml.safe_load(fh)["vault_timescaledb_owner_password"])
PY
)" || die "cannot read vault_timescaledb_owner_password from $VAULT"

work=/var/tmp/ms5-bench
cleanup() { docker exec "$SANDBOX" rm -rf "$work" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker exec "$SANDBOX" sh -c "rm -rf $work && mkdir -m 0700 $work"
docker cp bench/ms5bench "$SANDBOX:$work/ms5bench" >/dev/null
# rollup section: the rollups role's SQL generator, base SQL and default declarations
docker exec "$SANDBOX" mkdir -p "$work/ms5bench/_rollups"
docker cp plugins/module_utils/rollups.py "$SANDBOX:$work/ms5bench/_rollups/rollups.py" >/dev/null
docker cp roles/rollups/files/sql/rollups_base.sql "$SANDBOX:$work/ms5bench/_rollups/rollups_base.sql" >/dev/null
"$VENV/bin/python" -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))["rollups_definitions"]))' \
  roles/rollups/defaults/main.yml | docker exec -i "$SANDBOX" sh -c "cat > $work/ms5bench/_rollups/definitions.json"
printf '127.0.0.1:*:*:*:%s\n' "$password" | docker exec -i "$SANDBOX" sh -c "umask 077; cat > $work/pgpass"
unset password

tty_flag=()
[ -t 1 ] && [ -t 2 ] && tty_flag=(-t)
docker exec "${tty_flag[@]}" -e PGPASSFILE="$work/pgpass" -e PYTHONPATH="$work" -w "$work" "$SANDBOX" \
  python3 -m ms5bench --json "$work/result.json" "$@"
docker cp "$SANDBOX:$work/result.json" "$out" >/dev/null
echo "bench: JSON report: $out"
