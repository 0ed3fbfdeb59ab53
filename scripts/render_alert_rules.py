#!/usr/bin/env python3
"""Render roles/monitoring's alert rules template with the role's defaults.

The result is the shipped default rules file,
roles/monitoring/files/prometheus/ms5-alerts.rules.yml, for teams that load it into
their Prometheus without running the role; promtool checks and unit-tests it
(scripts/check-alert-rules.sh) and tests/unit/test_monitoring_rules.py fails when
it is stale. Rendering follows Ansible's template module (trim_blocks, the default
ansible_managed string); the thresholds are plain values in defaults/main.yml.
  python3 scripts/render_alert_rules.py           # rewrite the shipped file
  python3 scripts/render_alert_rules.py --check   # exit 1 when it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "roles" / "monitoring"
TEMPLATE = ROLE / "templates" / "ms5-alerts.rules.yml.j2"
SHIPPED = ROLE / "files" / "prometheus" / "ms5-alerts.rules.yml"


def default_vars() -> dict:
    """The role's defaults that the rules template uses (literal values only)."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    wanted = {k: v for k, v in defaults.items()
              if k.startswith("monitoring_alert_") or k == "monitoring_prometheus_job_name"}
    wanted["ansible_managed"] = "Ansible managed"
    return wanted


def render(variables: dict | None = None) -> str:
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    values = default_vars()
    values.update(variables or {})
    return template.render(**values)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not SHIPPED.exists() or SHIPPED.read_text(encoding="utf-8") != text:
            print(f"{SHIPPED.relative_to(ROOT)} is stale: run python3 scripts/render_alert_rules.py", file=sys.stderr)
            return 1
        return 0
    SHIPPED.write_text(text, encoding="utf-8")
    print(f"wrote {SHIPPED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
