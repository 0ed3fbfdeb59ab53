#!/usr/bin/env bash
# promtool checks of the monitoring role's alert rules (make lint, make test):
#   promtool check rules  roles/monitoring/files/prometheus/ms5-alerts.rules.yml
#   promtool test rules   roles/monitoring/files/prometheus/ms5-alerts.tests.yml
# and that the shipped rules file is the template rendered with the role's defaults.
# promtool comes from the local image ms5-test-prometheus (Debian 13's prometheus
# package, images/prometheus; `make setup` builds it), so no registry is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
image="${MS5_PROMETHEUS_IMAGE:-ms5-test-prometheus:latest}"
dir="roles/monitoring/files/prometheus"
py="${VENV:-.venv}/bin/python"
[ -x "$py" ] || py=python3

"$py" scripts/render_alert_rules.py --check
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "check-alert-rules: image $image is missing: run 'make setup' (or bash scripts/build-test-images.sh prometheus)" >&2
  exit 1
fi
docker run --rm -v "$PWD/$dir:/rules:ro" -w /rules "$image" check rules ms5-alerts.rules.yml
docker run --rm -v "$PWD/$dir:/rules:ro" -w /rules "$image" test rules ms5-alerts.tests.yml
