"""The observability kit against a real Prometheus (Debian's `prometheus`
binary) scraping a live `serve` on 127.0.0.1: the Kubernetes scrape
configuration's relabelling finds the server from its pod annotations, the
alert rules evaluate, and every query of the Grafana dashboard answers.

Debian's Prometheus is built without Kubernetes discovery, so the test swaps
`kubernetes_sd_configs` for `static_configs` carrying the labels Kubernetes
discovery would give a pod of deploy/k8s/deployment.yaml; everything after
discovery (the relabelling, the rules) is the shipped file's own.
"""
from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, test_environ
from tests.system.processes import free_port, post_json, serving, start, stop
from tests.system.test_observability import used_metrics

KIT = ROOT / "deploy" / "observability"
PROMETHEUS = shutil.which("prometheus") or "prometheus"
DASHBOARD_VARIABLES = {"$__rate_interval": "1m", "$instance": ".+", "$model": ".+"}


def pod_annotations() -> dict[str, str]:
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    return deployment["spec"]["template"]["metadata"]["annotations"]


def discovered_pod(port: int, name: str, scrape: str) -> dict:
    """A target as Kubernetes pod discovery would give it for a pod of
    deployment.yaml, listening on `port` (the annotation's port is replaced
    by the test's, the pod's declared port by a closed one: the relabelling
    must take the annotation's)."""
    annotations = pod_annotations()
    return {"targets": ["127.0.0.1:1"],
            "labels": {"__meta_kubernetes_pod_label_app": "embedding-server",
                       "__meta_kubernetes_pod_annotation_prometheus_io_scrape": scrape,
                       "__meta_kubernetes_pod_annotation_prometheus_io_port": str(port),
                       "__meta_kubernetes_pod_annotation_prometheus_io_path":
                           annotations["prometheus.io/path"],
                       "__meta_kubernetes_namespace": "default",
                       "__meta_kubernetes_pod_name": name}}


def local_config(directory: Path, server_port: int) -> Path:
    config = yaml.safe_load((KIT / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    (job,) = config["scrape_configs"]
    del job["kubernetes_sd_configs"]
    job["static_configs"] = [discovered_pod(server_port, "embedding-server-a", "true"),
                             discovered_pod(server_port, "embedding-server-b", "false")]
    shutil.copy(KIT / "alerts.yml", directory / "alerts.yml")
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def api(base: str, path: str, **query: str) -> dict:
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return answer["data"]


def wait_until(check, timeout: float = 60, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def traffic(base: str, port: int) -> None:
    """Embeddings on both models (repeated texts: cache hits; an unknown word:
    OOV), a TF Serving predict, a 404, and a request refused before the
    application (Content-Length with Transfer-Encoding)."""
    for _ in range(3):
        for model in ("bow-spanish", "lstm-multilingual"):
            post_json(f"{base}/api/v1/models/{model}/embed", {"texts": ["hola mundo", "zzyzx"]})
        post_json(f"{base}/v1/models/bow-spanish:predict", {"instances": ["hola"]})
        try:
            urllib.request.urlopen(f"{base}/api/v1/models/nope", timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 404
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n{}")
            assert connection.recv(64).startswith(b"HTTP/1.1 400")
        time.sleep(1)


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((KIT / "grafana-dashboard.json").read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expression = target["expr"]
            for variable, value in DASHBOARD_VARIABLES.items():
                expression = expression.replace(variable, value)
            queries.append((panel["title"], expression))
    return queries


@pytest.fixture(scope="module")
def prometheus(models_dir, tmp_path_factory):
    """A served app with the cache on, scraped by Prometheus once a second;
    yields the base URLs of Prometheus and the app once they saw some traffic."""
    directory = tmp_path_factory.mktemp("prometheus")
    environ = test_environ(models_dir, directory / "api.log", CACHE_SIZE="1000")
    with serving(environ, directory, workers=2) as (server, _):
        server_port = int(server.rsplit(":", 1)[1])
        port = free_port()
        process = start([PROMETHEUS, f"--config.file={local_config(directory, server_port)}",
                         f"--storage.tsdb.path={directory / 'data'}",
                         f"--web.listen-address=127.0.0.1:{port}"], {}, directory)
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_until(lambda: _up(base)), stop(process)
            traffic(server, server_port)
            time.sleep(3)  # a few more scrapes, so every rate has two points
            yield base, server
        finally:
            stop(process)


def _up(base: str) -> bool:
    try:
        return bool(api(base, "query", query='up{job="embedding-server"} == 1')["result"])
    except OSError:
        return False


@pytest.fixture(scope="module")
def prometheus_url(prometheus) -> str:
    return prometheus[0]


def test_every_metric_the_rules_and_dashboard_use_is_served(prometheus):
    with urllib.request.urlopen(prometheus[1] + "/metrics", timeout=30) as response:
        exposition = response.read().decode()
    served = {sample.name for family in text_string_to_metric_families(exposition)
              for sample in family.samples}
    assert used_metrics() <= served, used_metrics() - served


def test_scrape_config_finds_the_annotated_pod_on_its_annotated_port(prometheus_url):
    targets = api(prometheus_url, "targets")
    (active,) = targets["activeTargets"]
    assert active["health"] == "up", active
    assert active["labels"]["pod"] == "embedding-server-a"
    assert active["labels"]["job"] == "embedding-server"
    assert active["scrapeUrl"].endswith(pod_annotations()["prometheus.io/path"])
    dropped = [target["discoveredLabels"]["__meta_kubernetes_pod_name"]
               for target in targets["droppedTargets"]]
    assert dropped == ["embedding-server-b"]  # prometheus.io/scrape: "false"


def test_alert_rules_load_and_evaluate_without_error(prometheus_url):
    groups = api(prometheus_url, "rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) >= 11
    assert wait_until(lambda: all(rule.get("lastEvaluation", "").startswith("2")
                                  for group in api(prometheus_url, "rules")["groups"]
                                  for rule in group["rules"]), timeout=20)
    assert all(rule["health"] == "ok" for rule in rules), rules
    firing = api(prometheus_url, "alerts")["alerts"]
    assert not [alert for alert in firing if alert["state"] == "firing"], firing


def test_every_dashboard_query_answers_with_data(prometheus_url):
    queries = dashboard_queries()
    assert len(queries) >= 15
    empty = []
    for title, expression in queries:
        result = api(prometheus_url, "query", query=expression)["result"]
        if not result:
            empty.append((title, expression))
    assert not empty, empty


def test_dashboard_numbers_agree_with_the_traffic(prometheus_url):
    """A few panels read back: both models embedded, the cache hit, OOV seen."""
    def by_model(expression: str) -> dict[str, float]:
        rows = api(prometheus_url, "query", query=expression)["result"]
        return {row["metric"]["model"]: float(row["value"][1]) for row in rows}

    queries = dict((title, expression) for title, expression in dashboard_queries())
    hit_rate = by_model(queries["Cache hit rate"].replace("1m", "10m"))
    assert hit_rate and all(0 < rate < 1 for rate in hit_rate.values()), hit_rate
    oov = by_model(queries["Out-of-vocabulary rate"].replace("1m", "10m"))
    assert oov.get("bow-spanish", 0) > 0, oov
    states = api(prometheus_url, "query", query='sum by (model, state) (embedding_model_state) > 0')
    assert {(row["metric"]["model"], row["metric"]["state"]) for row in states["result"]} == {
        ("bow-spanish", "AVAILABLE"), ("lstm-multilingual", "AVAILABLE")}


def test_dashboard_variables_find_their_values(prometheus_url):
    dashboard = json.loads((KIT / "grafana-dashboard.json").read_text())
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        metric, label = variable["definition"].removeprefix("label_values(").rstrip(")").split(", ")
        values = api(prometheus_url, f"label/{label}/values", **{"match[]": metric})
        assert values, variable["name"]
