"""OpenTelemetry tracing through the HTTP API, exported over OTLP/HTTP to a
real receiver (tests/otlp.py), against the demo models."""
from __future__ import annotations

import json
import sys

import pytest

from embedding_server.observability.tracing import traces_endpoint
from embedding_server.settings import ConfigError, load_settings
from tests.otlp import OtlpReceiver

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
SERVER, INTERNAL = 2, 1  # OTLP span kinds


@pytest.fixture()
def receiver():
    with OtlpReceiver() as running:
        yield running


@pytest.fixture()
def traced(make_app, receiver):
    """An app tracing to the receiver, and a way to have its spans sent now."""
    app = make_app(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, CACHE_SIZE="100")
    provider = app.extensions["tracing"]

    def flush() -> None:
        assert provider.force_flush(10_000)

    return app.test_client(), flush


def assert_stage_tree(receiver, trace_id, texts, batch_size):
    root, children = receiver.tree(trace_id)
    assert [span.name for span in children] == ["tokenize", "queue", "inference"]
    assert all(span.kind == INTERNAL for span in children)
    tokenize, queue, inference = children
    assert tokenize.attributes["embedding.texts"] == texts
    for stage in (queue, inference):
        assert stage.attributes["embedding.batch.size"] == batch_size
        assert stage.attributes["embedding.batch.id"] >= 1
    # In order, each ending before the next begins, all within the request.
    assert root.start_ns <= tokenize.start_ns <= tokenize.end_ns <= queue.start_ns
    assert queue.start_ns <= queue.end_ns <= inference.start_ns <= inference.end_ns
    assert inference.end_ns <= root.end_ns
    assert inference.end_ns > inference.start_ns  # a real model run takes time
    return root


def test_predict_continues_the_callers_trace_with_a_span_per_stage(traced, receiver):
    client, flush = traced
    response = client.post("/api/v1/models/bow-spanish/predict",
                           json={"title": "hola mundo zzyzx"},
                           headers={"traceparent": f"00-{TRACE}-{PARENT}-01",
                                    "X-Request-ID": "req-1"})
    assert response.status_code == 200
    flush()
    root = assert_stage_tree(receiver, TRACE, texts=1, batch_size=1)
    assert root.parent_id == PARENT
    assert root.kind == SERVER
    assert root.name == "POST /api/v1/models/<string:name>/predict"
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["http.route"] == "/api/v1/models/<string:name>/predict"
    assert root.attributes["url.path"] == "/api/v1/models/bow-spanish/predict"
    assert root.attributes["embedding.request_id"] == "req-1"
    assert root.attributes["embedding.model"] == "bow-spanish"
    assert root.attributes["embedding.model.version"] == 1
    assert root.resource["service.name"] == "embedding-server"


def test_embed_starts_a_trace_and_cache_hits_skip_the_model(traced, receiver):
    client, flush = traced
    texts = ["uno dos", "tres", "cuatro cinco seis"]
    assert client.post("/api/v1/models/lstm-multilingual/embed",
                       json={"texts": texts}).status_code == 200
    assert client.post("/api/v1/models/lstm-multilingual/embed",
                       json={"texts": texts}).status_code == 200
    flush()
    roots = sorted((span for span in receiver.spans if span.kind == SERVER),
                   key=lambda span: span.start_ns)
    assert len(roots) == 2 and roots[0].trace_id != roots[1].trace_id
    assert roots[0].parent_id == ""  # no traceparent: a new trace
    first = assert_stage_tree(receiver, roots[0].trace_id, texts=3, batch_size=3)
    assert first.attributes["embedding.texts"] == 3
    assert first.attributes["embedding.cache_hits"] == 0
    again, children = receiver.tree(roots[1].trace_id)
    assert children == []  # all three from the cache: nothing tokenized or run
    assert again.attributes["embedding.cache_hits"] == 3


def test_openai_and_tfserving_requests_are_traced_too(traced, receiver):
    client, flush = traced
    assert client.post("/v1/embeddings", json={"model": "bow-spanish",
                                               "input": ["hola", "adiós"]}).status_code == 200
    assert client.post("/v1/models/bow-spanish:predict",
                       json={"instances": ["hola"]}).status_code == 200
    flush()
    routes = {span.attributes["http.route"]: span for span in receiver.spans
              if span.kind == SERVER}
    assert set(routes) == {"/v1/embeddings", "/v1/models/<path:rest>"}
    assert_stage_tree(receiver, routes["/v1/embeddings"].trace_id, texts=2, batch_size=2)


def test_token_id_input_has_no_tokenize_span(traced, receiver):
    client, flush = traced
    assert client.post("/v1/embeddings", json={"model": "bow-spanish",
                                               "input": [[5, 6, 7]]}).status_code == 200
    flush()
    (root,) = [span for span in receiver.spans if span.kind == SERVER]
    _, children = receiver.tree(root.trace_id)
    assert [span.name for span in children] == ["queue", "inference"]


def test_client_errors_are_spans_without_stages(traced, receiver):
    client, flush = traced
    assert client.post("/api/v1/models/nope/embed", json={"texts": ["x"]}).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    flush()
    roots = [span for span in receiver.spans if span.kind == SERVER]
    assert {span.attributes["http.route"] for span in roots} == {
        "/api/v1/models/<string:name>/embed", "unmatched"}
    assert all(span.attributes["http.response.status_code"] == 404 for span in roots)
    assert all(span.status_code == 0 for span in roots)  # unset: 4xx is the client's
    assert len(receiver.spans) == 2


def test_a_malformed_traceparent_starts_a_new_trace(traced, receiver):
    client, flush = traced
    assert client.post("/api/v1/models/bow-spanish/predict", json={"title": "hola"},
                       headers={"traceparent": "00-zz-not-a-trace-01"}).status_code == 200
    flush()
    (root,) = [span for span in receiver.spans if span.kind == SERVER]
    assert root.parent_id == "" and int(root.trace_id, 16) != 0


def test_the_access_log_names_the_trace(traced, receiver, tmp_path):
    client, flush = traced
    client.post("/api/v1/models/bow-spanish/predict", json={"title": "hola"},
                headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    line = [line for line in (tmp_path / "api.log").read_text().splitlines()
            if "/predict 200" in line][-1]
    assert line.endswith(f"trace_id={TRACE}")


def test_json_logs_carry_the_trace_id_field(make_app, receiver, tmp_path):
    app = make_app(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, LOG_FORMAT="json")
    app.test_client().post("/api/v1/models/bow-spanish/predict", json={"title": "hola"},
                           headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    entries = [json.loads(line) for line in (tmp_path / "api.log").read_text().splitlines()]
    (access,) = [entry for entry in entries if entry.get("endpoint", "").endswith("/predict")]
    assert access["trace_id"] == TRACE


def test_without_tracing_the_access_log_has_no_trace_id(make_app, tmp_path):
    make_app().test_client().post("/api/v1/models/bow-spanish/predict", json={"title": "hola"},
                                  headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    log = (tmp_path / "api.log").read_text()
    assert "/predict 200" in log and "trace_id" not in log


def test_an_unsampled_parent_is_not_exported(traced, receiver):
    """The default sampler follows the caller's decision (flags 00)."""
    client, flush = traced
    client.post("/api/v1/models/bow-spanish/predict", json={"title": "hola"},
                headers={"traceparent": f"00-{TRACE}-{PARENT}-00"})
    client.post("/api/v1/models/bow-spanish/predict", json={"title": "hola"})
    flush()
    assert [span.trace_id for span in receiver.spans if span.kind == SERVER] != []
    assert all(span.trace_id != TRACE for span in receiver.spans)


def test_off_by_default_with_no_hook_installed(make_app):
    app = make_app()
    assert app.extensions["tracing"] is None
    hooks = [function.__name__ for function in app.before_request_funcs.get(None, [])]
    assert "start_span" not in hooks
    response = app.test_client().post("/api/v1/models/bow-spanish/predict",
                                      json={"title": "hola"})
    assert response.status_code == 200


@pytest.mark.parametrize("variables, endpoint", [
    ({}, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
     "http://collector:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/in"}, "http://traces:9999/in"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"},
     None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"},
     None),
])
def test_the_endpoint_follows_the_otlp_exporters_rules(variables, endpoint):
    assert traces_endpoint(load_settings(variables)) == endpoint


def test_an_exporter_we_do_not_ship_is_refused():
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER"):
        load_settings({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_tracing_without_the_sdk_installed_says_what_to_install(make_app, monkeypatch):
    # An import that fails as it does where the `tracing` extra is not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter",
                        None)
    with pytest.raises(ConfigError, match=r"embedding-server\[tracing\]"):
        make_app(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1")
