#!/usr/bin/env bash
# ansible-test sanity (validate-modules) on a copy of the collection laid out as
# ansible_collections/ms5/factory_telemetry, as ansible-test requires. Accepted
# exceptions: tests/sanity/ignore-<ansible-core major.minor>.txt; known failures
# owned elsewhere (tests/sanity/known-failures.txt) are added to the copy's ignore
# file and printed on every run until they are fixed.
#
# ansible-test bootstraps pip into its test virtualenv with a script it downloads
# from ci-files.testing.ansible.com, which these machines cannot reach; a stand-in
# that takes pip from Python's own ensurepip (then the pinned requirements from the
# package index) is put in its cache instead. It is written only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(command -v python3)"
py_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
pip_version="$("$python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)"
bootstrap="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -s "$bootstrap" ]; then
  mkdir -p "$(dirname "$bootstrap")"
  cat > "$bootstrap" <<'PY'
"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), for machines that
cannot reach ci-files.testing.ansible.com: pip from Python's own ensurepip, then the
requested packages from the package index. Written by ms5.factory_telemetry's
scripts/ansible-test-sanity.sh."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet"] + args)
PY
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
copy="$work/ansible_collections/ms5/factory_telemetry"
mkdir -p "$copy"
while IFS= read -r -d '' file; do
  if [ -e "$file" ]; then cp --parents "$file" "$copy"; fi
done < <(git ls-files -z --cached --others --exclude-standard)
# The modules extend community.postgresql's documentation fragment and import its
# module_utils: ansible-test finds dependencies in the same ansible_collections tree.
pg_collection="$("$python" - <<'PY'
import pathlib, ansible_collections.community.postgresql as m
print(pathlib.Path(list(m.__path__)[0]))
PY
)"
mkdir -p "$work/ansible_collections/community"
cp -r "$pg_collection" "$work/ansible_collections/community/postgresql"
cd "$copy"
core="$(ansible --version | sed -n '1s/.*core \([0-9]*\.[0-9]*\).*/\1/p')"
if [ -s tests/sanity/known-failures.txt ]; then
  grep -v '^\s*\(#\|$\)' tests/sanity/known-failures.txt > "$work/known" || true
  if [ -s "$work/known" ]; then
    echo "KNOWN FAILURES accepted until their owners fix them (tests/sanity/known-failures.txt):"
    sed 's/^/  /' "$work/known"
    cat "$work/known" >> "tests/sanity/ignore-$core.txt"
  fi
fi
ansible-test sanity --test validate-modules --python "$py_version" --color no
