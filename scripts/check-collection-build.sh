#!/usr/bin/env bash
# Build the collection tarball, install it into a scratch path and prove that its
# roles resolve by FQCN there (ansible-doc reads their argument_specs).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '[defaults]\n' > "$work/ansible.cfg"
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
tarball="$(ls "$work"/ms5-factory_telemetry-*.tar.gz)"
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$work/collections" \
  ansible-galaxy collection install --force --no-deps -p "$work/collections" "$tarball" >/dev/null
installed="$work/collections/ansible_collections/ms5/factory_telemetry"
[ -d "$installed/files/migrations" ] || { echo "files/migrations missing from the built collection" >&2; exit 1; }
for role in "$installed"/roles/*/; do
  name="ms5.factory_telemetry.$(basename "$role")"
  ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_CONFIG="$work/ansible.cfg" \
    ansible-doc -t role "$name" >/dev/null
  echo "resolved $name"
done
if tar -tzf "$tarball" | grep -qE '^(molecule|images|tests|\.ci)/'; then
  echo "test-only files leaked into the tarball" >&2
  exit 1
fi
