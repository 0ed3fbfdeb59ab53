#!/usr/bin/env bash
# Build the collection tarball, check that it holds the collection only (and all of
# it), install it into a scratch path and prove that its roles resolve by FQCN there
# (ansible-doc reads their argument_specs).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '[defaults]\n' > "$work/ansible.cfg"
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
tarball="$(ls "$work"/ms5-factory_telemetry-*.tar.gz)"
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"

# What the tarball may hold: the collection's metadata, README and CHANGELOG, and
# these directories. Anything else (inventories with the sandbox vault, bench,
# scripts, tests, Molecule, the Makefile, ansible.cfg, developer docs) is a leak.
tar -tzf "$tarball" | sed 's#^\./##; s#/$##' | grep -v '^$' > "$work/contents"
allowed='^(MANIFEST\.json|FILES\.json|README\.md|CHANGELOG\.md|meta(/.*)?|roles(/.*)?|plugins(/.*)?|playbooks(/.*)?|files(/.*)?|docs|docs/SCHEMA\.md)$'
if grep -Ev "$allowed" "$work/contents" > "$work/leaked"; then
  echo "files that are not part of the collection are in the tarball:" >&2
  head -n 20 "$work/leaked" >&2
  exit 1
fi
if grep -Eq '(^|/)(vault\.yml|vault\.yml\.example|__pycache__|[^/]*\.pyc|\.molecule)$' "$work/contents"; then
  echo "secrets, caches or test state are in the tarball" >&2
  exit 1
fi
for required in README.md meta/runtime.yml playbooks/site.yml playbooks/rollback.yml \
                files/migrations/001_init_telemetry.sql roles/_common/tasks/main.yml \
                plugins/filter/timescaledb_tuning.py docs/SCHEMA.md; do
  grep -qx "$required" "$work/contents" || { echo "$required is missing from the tarball" >&2; exit 1; }
done
echo "contents: $(wc -l < "$work/contents") entries, collection files only"

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
