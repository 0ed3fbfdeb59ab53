#!/usr/bin/env bash
# make setup: everything a fresh Debian 12 / Ubuntu 22.04+ machine needs, as root.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
APT_PACKAGES=(docker.io debootstrap shellcheck python3-venv python3-pip git make rsync)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Pinned Python tool chain, reinstalled only when requirements.txt changes.
stamp="$VENV/.requirements.sha256"
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating virtualenv $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# The checkout is the collection: link it where ansible.cfg looks for collections.
mkdir -p .collections/ansible_collections/ms5
ln -sfn ../../.. .collections/ansible_collections/ms5/factory_telemetry

bash scripts/ensure-docker.sh
bash scripts/build-test-images.sh
echo "setup: done"
