"""The observability kit under deploy/observability: the alert rules pass
promtool's checks and their unit tests (Debian's prometheus package), and
every metric they use exists in the server's /metrics after some traffic."""
from __future__ import annotations

import re
import shutil
import subprocess

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT

KIT = ROOT / "deploy" / "observability"
PROMTOOL = shutil.which("promtool") or "promtool"
#: Series Prometheus makes itself, not the server.
PROMETHEUS_OWN = {"up"}


def promtool(*arguments: str) -> str:
    completed = subprocess.run([PROMTOOL, *arguments], cwd=KIT, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_rules_pass_promtool_check_and_their_unit_tests():
    assert "SUCCESS" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_unit_test():
    rules = yaml.safe_load((KIT / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]
              if "alert" in rule}
    tests = yaml.safe_load((KIT / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    assert alerts == tested


def used_metrics() -> set[str]:
    rules = yaml.safe_load((KIT / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"]
                if "record" in rule}
    names = set()
    for expression in expressions:
        names |= set(re.findall(r"\b([a-z_][a-z0-9_:]*)\s*(?:\{|\[)", expression))
        names |= set(re.findall(r"\b(embedding_[a-z0-9_]+|model:[a-z0-9_:]+)", expression))
    return names - recorded - PROMETHEUS_OWN


def test_every_metric_the_rules_use_is_served(make_app):
    client = make_app(MODEL_NAMES="bow-spanish").test_client()
    client.post("/api/v1/models/bow-spanish/embed", json={"texts": ["hola zzyzx"]})
    client.get("/api/v1/models/nope")
    exposition = client.get("/metrics").get_data(as_text=True)
    served = {sample.name for family in text_string_to_metric_families(exposition)
              for sample in family.samples}
    used = used_metrics()
    assert len(used) >= 8
    assert used <= served, used - served
