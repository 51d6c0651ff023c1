"""The observability kit under deploy/observability: the alert rules pass
promtool's checks and their unit tests (Debian's prometheus package), and
every metric the rules and the Grafana dashboard use exists in the server's
/metrics after some traffic. test_prometheus_live.py runs them for real."""
from __future__ import annotations

import json
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
#: Counted by the gunicorn worker's own HTTP parser, which an in-process app
#: does not run; test_prometheus_live.py finds it on a served one.
WORKER_ONLY = {"embedding_http_refused_total"}


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
    dashboard = json.loads((KIT / "grafana-dashboard.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"]
                    for target in panel.get("targets", [])]
    expressions += [variable["definition"] for variable in dashboard["templating"]["list"]
                    if variable["type"] == "query"]
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"]
                if "record" in rule}
    names = set()
    for expression in expressions:
        names |= set(re.findall(r"\b([a-z_][a-z0-9_:]*)\s*(?:\{|\[)", expression))
        names |= set(re.findall(r"\b(embedding_[a-z0-9_]+|model:[a-z0-9_:]+)", expression))
    return names - recorded - PROMETHEUS_OWN


def test_promtool_accepts_the_scrape_configuration_once_discovery_is_static(tmp_path):
    """Debian's promtool knows no kubernetes_sd_configs; everything else in
    the file (globals, rule files, relabelling) is checked as shipped."""
    config = yaml.safe_load((KIT / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": ["127.0.0.1:5000"]}]
        del job["kubernetes_sd_configs"]
    shutil.copy(KIT / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    completed = subprocess.run([PROMTOOL, "check", "config", "prometheus.yml"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "SUCCESS: 11 rules found" in completed.stdout


def test_every_metric_the_rules_and_dashboard_use_is_served(make_app):
    client = make_app(MODEL_NAMES="bow-spanish").test_client()
    client.post("/api/v1/models/bow-spanish/embed", json={"texts": ["hola zzyzx"]})
    client.get("/api/v1/models/nope")
    client.post("/v1/models/bow-spanish:predict", json={"instances": ["hola"]})
    exposition = client.get("/metrics").get_data(as_text=True)
    served = {sample.name for family in text_string_to_metric_families(exposition)
              for sample in family.samples}
    used = used_metrics()
    assert len(used) >= 8
    assert used - WORKER_ONLY <= served, used - served
