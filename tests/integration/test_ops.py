"""Health probes, Prometheus metrics and structured logs, through the HTTP API."""
from __future__ import annotations

import json

from embedding_server.serving.registry import Registry
from embedding_server.settings import Settings
from tests.conftest import copy_model
from tests.metrics import metric_value, parse_metrics

BOW = "/api/v1/models/bow-spanish"


def test_live_answers_while_the_process_does(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}


def test_ready_when_every_model_has_loaded(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ready"] is True
    assert {m["name"]: (m["state"], m["version"]) for m in body["models"]} == {
        "bow-spanish": ("AVAILABLE", 1), "lstm-multilingual": ("AVAILABLE", 1),
        "bow-spanish-v2": ("AVAILABLE", 1)}


def test_ready_with_one_failed_model_beside_a_good_one(models_dir, tmp_path, make_app):
    copy_model(models_dir, "bow-spanish", tmp_path / "bow-spanish")
    (tmp_path / "broken").mkdir()
    client = make_app(tmp_path, MODEL_NAMES="bow-spanish,broken").test_client()
    response = client.get("/health/ready")
    assert response.status_code == 200  # every model has finished loading; one serves
    states = {m["name"]: m["state"] for m in response.get_json()["models"]}
    assert states == {"bow-spanish": "AVAILABLE", "broken": "FAILED"}


def test_not_ready_when_no_model_serves(tmp_path, make_app):
    (tmp_path / "broken").mkdir()
    response = make_app(tmp_path, MODEL_NAMES="broken").test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ready"] is False
    assert body["models"][0]["state"] == "FAILED" and body["models"][0]["error"]


def test_not_ready_while_a_model_is_loading(models_dir):
    registry = Registry(Settings(MODELS_BASE_DIR=str(models_dir),
                                 MODEL_NAMES=("bow-spanish",)))  # not loaded yet
    assert not registry.ready()


def test_metrics_count_requests_embeddings_tokens_and_oov(make_app):
    app = make_app(MODEL_NAMES="bow-spanish")
    client = app.test_client()
    before = {name: metric_value(app, name, model="bow-spanish") for name in (
        "embedding_embeddings_total", "embedding_tokens_total", "embedding_oov_tokens_total",
        "embedding_batch_size_count", "embedding_inference_duration_seconds_count")}
    requests_before = metric_value(app, "embedding_http_requests_total", status="200",
                                   endpoint="/api/v1/models/<string:name>/embed")
    assert client.post(BOW + "/embed", json={"texts": ["hola mundo zzyzx", "qwxz casa"]}
                       ).status_code == 200
    assert client.post(BOW + "/predict", json={"title": ""}).status_code == 422
    after = {name: metric_value(app, name, model="bow-spanish") for name in before}
    assert after["embedding_embeddings_total"] - before["embedding_embeddings_total"] == 2
    assert after["embedding_tokens_total"] - before["embedding_tokens_total"] == 5
    assert after["embedding_oov_tokens_total"] - before["embedding_oov_tokens_total"] == 2
    assert after["embedding_batch_size_count"] - before["embedding_batch_size_count"] == 1
    assert (after["embedding_inference_duration_seconds_count"]
            - before["embedding_inference_duration_seconds_count"]) == 1
    assert metric_value(app, "embedding_http_requests_total", status="200",
                        endpoint="/api/v1/models/<string:name>/embed") == requests_before + 1
    assert metric_value(app, "embedding_http_requests_total", status="422",
                        endpoint="/api/v1/models/<string:name>/predict") >= 1
    assert metric_value(app, "embedding_model_state", model="bow-spanish", version="1",
                        state="AVAILABLE") == 1


def test_metrics_are_prometheus_text_with_every_documented_family(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    client.get("/nowhere")
    names = {name for name, _, _ in parse_metrics(client.get("/metrics").get_data(as_text=True))}
    for family in ("embedding_http_requests_total",
                   "embedding_http_request_duration_seconds_bucket",
                   "embedding_inference_duration_seconds_bucket", "embedding_batch_size_bucket",
                   "embedding_queue_depth", "embedding_model_state", "embedding_embeddings_total",
                   "embedding_tokens_total", "embedding_oov_tokens_total",
                   "embedding_model_load_failures_total", "embedding_inference_errors_total",
                   "embedding_model_swaps_total"):
        assert family in names, family
    unmatched = [labels for name, labels, _ in parse_metrics(client.get("/metrics").get_data(
        as_text=True)) if name == "embedding_http_requests_total"
        and labels["endpoint"] == "unmatched"]
    assert unmatched and unmatched[0]["status"] == "404"


def test_readme_documents_every_metric():
    from pathlib import Path

    from embedding_server.observability import metrics

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    names = [value._name for value in vars(metrics).values()
             if hasattr(value, "_name") and hasattr(value, "_type")]
    assert names and all(name in readme for name in names), names


def test_json_logs_one_object_per_line_without_texts(make_app, tmp_path):
    app = make_app(MODEL_NAMES="bow-spanish", LOG_FORMAT="json", LOG_LEVEL="INFO")
    response = app.test_client().post(BOW + "/predict", json={"title": "secreto del cliente"},
                                      headers={"X-Request-ID": "json-1"})
    assert response.status_code == 200
    lines = (tmp_path / "api.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [r for r in records if r.get("request_id") == "json-1"]
    assert len(access) == 1
    record = access[0]
    assert {"time", "level", "message"} <= set(record)
    assert record["endpoint"] == "/api/v1/models/<string:name>/predict"
    assert (record["model"], record["version"], record["status"]) == ("bow-spanish", 1, 200)
    assert record["latency_ms"] > 0 and record["batch_size"] == 1
    assert "secreto" not in "\n".join(lines)
