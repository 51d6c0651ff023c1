"""Tracing under `serve` (gunicorn, gevent workers forked from the master):
spans reach a real OTLP/HTTP receiver from every worker, continue the
caller's W3C trace, and requests that shared a model run name the same batch."""
from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import test_environ
from tests.otlp import OtlpReceiver
from tests.system.processes import free_port, serving, worker_pids

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def post(url: str, body: dict, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status


def test_serve_exports_span_trees_and_shared_batches(models_dir, tmp_path):
    with OtlpReceiver() as receiver:
        environ = test_environ(models_dir, tmp_path / "api.log",
                               OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                               OTEL_SERVICE_NAME="embeddings-under-test",
                               OTEL_BSP_SCHEDULE_DELAY="100")
        with serving(environ, tmp_path, workers=2) as (base, master):
            assert post(f"{base}/api/v1/models/bow-spanish/predict", {"title": "hola mundo"},
                        {"traceparent": f"00-{TRACE}-{PARENT}-01"}) == 200
            assert post(f"{base}/api/v1/models/lstm-multilingual/embed",
                        {"texts": ["hello world", "bonjour"]}) == 200
            # Concurrent single texts: the micro-batcher merges some of them.
            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(
                    lambda i: post(f"{base}/api/v1/models/lstm-multilingual/predict",
                                   {"title": f"texto número {i}"}), range(64)))
            assert statuses == [200] * 64
            receiver.wait_for(lambda spans: len(
                [span for span in spans if span.name == "inference"]) >= 66)
            workers = worker_pids(master)
        log = (tmp_path / "api.log").read_text()

    root, children = receiver.tree(TRACE)
    assert root.parent_id == PARENT
    assert [span.name for span in children] == ["tokenize", "queue", "inference"]
    assert root.resource["service.name"] == "embeddings-under-test"
    assert f"trace_id={TRACE}" in log

    embeds = [span for span in receiver.spans
              if span.attributes.get("http.route") == "/api/v1/models/<string:name>/embed"]
    (embed,) = embeds
    _, children = receiver.tree(embed.trace_id)
    assert [span.name for span in children] == ["tokenize", "queue", "inference"]
    assert children[2].attributes["embedding.batch.size"] == 2

    # Requests of one batch: same worker, same batch id, the same model run.
    runs: dict[tuple, list] = {}
    for span in receiver.spans:
        if span.name == "inference":
            key = (span.resource["process.pid"], span.attributes["embedding.batch.id"],
                   span.attributes["embedding.batch.size"])
            runs.setdefault(key, []).append(span)
    shared = {key: spans for key, spans in runs.items() if key[2] > 1 and
              len({span.trace_id for span in spans}) > 1}
    assert shared, runs.keys()
    for (_, _, size), spans in shared.items():
        assert len(spans) <= size
        # One run, placed by each request from its own clock readings: within µs.
        for edge in ("start_ns", "end_ns"):
            times = [getattr(span, edge) for span in spans]
            assert max(times) - min(times) < 100_000, times
    assert {key[0] for key in runs} <= workers  # the workers, after the fork, export


def test_a_collector_that_is_down_costs_no_request(models_dir, tmp_path):
    """Spans go out from a background thread: with nothing listening at the
    endpoint, every request is still answered, and the worker lives on."""
    environ = test_environ(models_dir, tmp_path / "api.log",
                           OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}",
                           OTEL_BSP_SCHEDULE_DELAY="50", OTEL_EXPORTER_OTLP_TIMEOUT="1")
    with serving(environ, tmp_path, workers=1) as (base, process):
        for i in range(40):
            assert post(f"{base}/api/v1/models/bow-spanish/predict", {"title": f"hola {i}"}) == 200
        time.sleep(1)  # exports have failed by now
        assert post(f"{base}/api/v1/models/bow-spanish/predict", {"title": "hola"}) == 200
        assert process.poll() is None
    # The SDK's complaint is in the server's log, not lost on a bare stderr.
    assert "Failed to export" in (tmp_path / "api.log").read_text()
