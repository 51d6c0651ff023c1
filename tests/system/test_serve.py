"""`my-server-manage serve`: gunicorn with real workers on 127.0.0.1."""
from __future__ import annotations

import concurrent.futures
import http.client
import os
import signal
import time

import pytest

from tests.conftest import test_environ
from tests.system.processes import connections_per_worker, post_json, serving


@pytest.fixture()
def served(models_dir, tmp_path):
    """A running `serve` with two workers; yields its base URL and process."""
    with serving(test_environ(models_dir, tmp_path / "api.log"), tmp_path,
                 ready_path="/api/v1/models/bow-spanish") as (base, process):
        yield base + "/api/v1", process


def test_serve_runs_two_workers_that_answer_concurrent_requests(served):
    base, process = served
    workers = [pid for pid in os.listdir("/proc") if pid.isdigit()
               and open(f"/proc/{pid}/stat").read().split()[3] == str(process.pid)]
    assert len(workers) == 2
    bodies = [("bow-spanish", f"el perro número {i} come") for i in range(40)] + [
        ("lstm-multilingual", f"hello world number {i}") for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(
            lambda job: post_json(f"{base}/models/{job[0]}/predict", {"title": job[1]}),
            bodies))
    for (model, _), result in zip(bodies, results):
        prediction = result["ModelPrediction"]
        assert prediction["modelName"] == model
        assert len(prediction["modelPrediction"]) == (300 if model == "bow-spanish" else 256)
        assert "come" in prediction["tokenizedTitle"] or "hello" in prediction["tokenizedTitle"]


def _open_connection(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection that has had one answer (so it is accepted)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/health/live")
    assert connection.getresponse().read()
    return connection


def test_both_workers_take_new_connections_through_the_balanced_server(served):
    """Which worker takes each connection is tested on two servers in one
    loop (tests/integration/test_accept_servers.py), where it does not hang
    on how the OS schedules two processes; here, that `serve` uses them."""
    base, process = served
    port = int(base.split(":")[2].split("/")[0])
    # The second worker may still be loading its models: hold connections
    # until each worker has one (the serving one leaves new ones to a peer
    # that holds fewer).
    held, deadline = [], time.monotonic() + 60
    try:
        while min(connections_per_worker(process, port).values()) == 0:
            assert time.monotonic() < deadline, "a worker never took a connection"
            held.append(_open_connection(port))
    finally:
        for connection in held:
            connection.close()
    assert "Using worker: BalancedWorker" in process.output_path.read_text()


def test_sigterm_finishes_in_flight_requests_then_exits(served):
    base, process = served
    long_texts = ["palabra " * 2000] * 64  # about a second of LSTM work each

    def embed(_):
        return post_json(f"{base}/models/lstm-multilingual/embed", {"texts": long_texts})

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(embed, i) for i in range(4)]
        time.sleep(0.5)  # the requests are in flight
        assert not any(future.done() for future in futures)
        started = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)
        results = [future.result(timeout=60) for future in futures]
    assert all(len(result["embeddings"]) == 64 for result in results)
    process.wait(timeout=30)
    assert process.returncode == 0
    assert time.monotonic() - started < 25
