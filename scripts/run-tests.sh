#!/usr/bin/env bash
# make test: every check of the collection, each counted as one test, ending with
# a plain "N passed, N failed" line. Stages (MS5_TEST_STAGES, default all):
#   lint      yamllint, ansible-lint --profile production, shellcheck, syntax checks,
#             argument_specs/defaults drift, role READMEs current (aar-doc), collection
#             build (contents checked) + install by FQCN, ansible-test sanity
#             (validate-modules)
#   unit      pytest tests/ (each pytest test counts)
#   molecule  `molecule test -s NAME` for every scenario (MS5_SCENARIOS to choose,
#             MS5_MOLECULE_JOBS scenarios side by side, default 2)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root="$PWD"
export PATH="$root/${VENV:-.venv}/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
stages="${MS5_TEST_STAGES:-lint unit molecule}"
logs="$root/.cache/test-logs"
mkdir -p "$logs"

passed=0
failed=0
failures=()
reasons=() # one short paragraph per failed scenario, printed again at the very end

record() { # record NAME RC
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); echo "PASS  $1"
  else
    failed=$((failed + 1)); failures+=("$1"); echo "FAIL  $1"
  fi
}

check() { # check NAME CMD... : run, show output on failure, record
  local name="$1"; shift
  local log="$logs/${name//[^A-Za-z0-9_.-]/_}.log"
  "$@" >"$log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "---- $name (exit $rc) ----"; tail -n 80 "$log"; echo "----"
    reasons+=("$name (exit $rc): $(grep -v '^\W*$' "$log" | tail -n 6 | sed 's/\x1b\[[0-9;]*m//g; s/\x1b\]8;;[^\x1b]*\x1b\\//g' | cut -c1-300)")
  fi
  record "$name" $rc
}

if [[ " $stages " == *" lint "* ]]; then
  echo "== lint"
  check "yamllint" yamllint --strict .
  check "ansible-lint (production profile)" ansible-lint --offline
  mapfile -t shell_scripts < <(git ls-files '*.sh' '*.sh.j2' | grep -v '\.j2$'; git ls-files 'roles/*/files/*' | xargs -r grep -l '^#!/usr/bin/env bash\|^#!/bin/bash' 2>/dev/null)
  check "shellcheck" shellcheck "${shell_scripts[@]}"
  for pb in playbooks/*.yml; do
    [ -e "$pb" ] || continue
    check "syntax-check $pb" ansible-playbook --syntax-check -i localhost, "$pb"
  done
  check "argument_specs match defaults" python3 scripts/check_argument_specs.py
  check "role READMEs match argument_specs (aar-doc)" bash scripts/check-role-docs.sh
  check "collection builds, holds the collection only, installs (roles by FQCN)" bash scripts/check-collection-build.sh
  check "ansible-test sanity (validate-modules)" bash scripts/ansible-test-sanity.sh
  check "promtool check/test rules (monitoring alerts)" bash scripts/check-alert-rules.sh
fi

if [[ " $stages " == *" unit "* ]]; then
  echo "== unit (pytest tests/)"
  junit="$logs/pytest.xml"
  pytest -q -p no:cacheprovider --junitxml="$junit" tests/
  rc=$?
  if [ -s "$junit" ] && [ $rc -ne 5 ]; then
    read -r p f < <(python3 - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad)
PY
)
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
      failures+=("pytest: $f failed")
      reasons+=("pytest, failed: $(python3 - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET
bad = [c for c in ET.parse(sys.argv[1]).getroot().iter("testcase")
       if c.find("failure") is not None or c.find("error") is not None]
for c in bad[:10]:
    what = c.find("failure") if c.find("failure") is not None else c.find("error")
    print(f"{c.get('classname')}::{c.get('name')}: {(what.get('message') or '')[:200]}")
PY
)")
    fi
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then record "pytest (exit $rc)" $rc; fi
  else
    record "pytest (exit $rc, no results)" 1
  fi
fi

if [[ " $stages " == *" molecule "* ]]; then
  # Longest first, so that two at a time finish close together.
  order=(cutover rollback default monitoring backup rollups timescaledb migrations timescaledb_policies docker)
  if [ -n "${MS5_SCENARIOS:-}" ]; then
    read -r -a scenarios <<< "$MS5_SCENARIOS"
  else
    scenarios=()
    for s in "${order[@]}"; do [ -f "molecule/$s/molecule.yml" ] && scenarios+=("$s"); done
    for f in molecule/*/molecule.yml; do
      s="$(basename "$(dirname "$f")")"
      [[ " ${scenarios[*]} " == *" $s "* ]] || scenarios+=("$s")
    done
  fi
  jobs="${MS5_MOLECULE_JOBS:-2}"
  echo "== molecule (${#scenarios[@]} scenarios, $jobs at a time; logs in .cache/test-logs/)"
  bash scripts/ensure-docker.sh
  run_one() {
    local s="$1" start rc
    start=$(date +%s)
    molecule test -s "$s" >"$logs/molecule-$s.log" 2>&1
    rc=$?
    echo "$rc $(( $(date +%s) - start ))" > "$logs/molecule-$s.rc"
  }
  running=0
  for s in "${scenarios[@]}"; do
    rm -f "$logs/molecule-$s.rc"
    run_one "$s" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  done
  wait
  for s in "${scenarios[@]}"; do
    read -r rc secs < "$logs/molecule-$s.rc" 2>/dev/null || { rc=1; secs=0; }
    if [ "$rc" -ne 0 ]; then
      echo "---- molecule $s (exit $rc): what failed, from .cache/test-logs/molecule-$s.log ----"
      sed 's/\x1b\[[0-9;]*m//g' "$logs/molecule-$s.log" > "$logs/molecule-$s.plain.log"
      # What failed first: pytest's assertion lines and short summary (verify), else
      # the last failed Ansible task (side effects expect some tasks to fail).
      summary="$(grep -E '^\W*E +|short test summary|^\W*(FAILED|ERROR) ' "$logs/molecule-$s.plain.log" | grep -v RETRYING | head -n 100 || true)"
      if [ -z "$summary" ]; then
        summary="$(grep -E -A15 'fatal: \[' "$logs/molecule-$s.plain.log" | grep -v '^\W*$' | tail -n 60 || true)"
      fi
      echo "$summary"
      reasons+=("molecule $s: $(grep -E 'short test summary|^\W*(FAILED|ERROR) |^\W*E +|fatal: \[|msg' <<< "$summary" | cut -c1-300 | head -n 12)")
      echo "-- last lines --"
      grep -v '^\W*$' "$logs/molecule-$s.plain.log" | tail -n 40
      echo "----"
    fi
    record "molecule test -s $s (${secs}s)" "$rc"
  done
fi

echo
if [ "$failed" -gt 0 ]; then
  # Repeated here because CI keeps only the end of the output.
  for r in "${reasons[@]}"; do echo "$r"; echo; done
  echo "Failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
