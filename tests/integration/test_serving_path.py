"""Batching, backpressure and encodings through the API, on real models."""
import base64
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from embedding_server.serving.backends.tf1 import session_callable
from tests.metrics import metric_value

BOW = "/api/v1/models/bow-spanish"
LSTM = "/api/v1/models/lstm-multilingual"
TEXTS = ["el perro come", "hello world how are you", "bonjour", "!!!", "ciao bella " * 30,
         "guten Tag", "obrigado pela ajuda", "la casa grande y blanca"]


def concurrent_posts(client, url, bodies):
    responses = [None] * len(bodies)

    def post(i):
        responses[i] = client.post(url, json=bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return responses


@pytest.mark.parametrize("url", [BOW, LSTM])
def test_batched_concurrent_requests_each_get_their_own_embedding(make_app, url):
    batched = make_app(BATCH_TIMEOUT_MS="50").test_client()
    direct = make_app(BATCHING="false").test_client()
    bodies = [{"title": text} for text in TEXTS] * 3
    responses = concurrent_posts(batched, url + "/predict", bodies)
    for body, response in zip(bodies, responses):
        assert response.status_code == 200
        expected = direct.post(url + "/predict", json=body).get_json()["ModelPrediction"]
        got = response.get_json()["ModelPrediction"]
        assert got["tokenizedTitle"] == expected["tokenizedTitle"]
        assert got["modelPrediction"] == pytest.approx(expected["modelPrediction"], abs=1e-5)


def test_requests_with_different_dropout_are_not_mixed(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", BATCH_TIMEOUT_MS="50").test_client()
    bodies = [{"title": "el perro come en casa"},
              {"title": "el perro come en casa", "title_dropout": 0.01}] * 4
    responses = concurrent_posts(client, BOW + "/predict", bodies)
    plain = [r.get_json()["ModelPrediction"]["modelPrediction"] for r in responses[::2]]
    # Batch size may change the last bits of a matmul, never more.
    assert all(vector == pytest.approx(plain[0], abs=1e-6) for vector in plain)
    dropped = [r.get_json()["ModelPrediction"]["modelPrediction"] for r in responses[1::2]]
    assert all(vector != pytest.approx(plain[0], abs=1e-3) for vector in dropped)


def test_base64_encoding_is_little_endian_float32_of_the_same_vectors(client):
    texts = ["hola mundo", "la casa"]
    floats = client.post(BOW + "/embed", json={"texts": texts}).get_json()
    encoded = client.post(BOW + "/embed", json={"texts": texts,
                                                "encoding_format": "base64"}).get_json()
    assert encoded["dimension"] == 300 and encoded["tokens"] == floats["tokens"]
    for text_b64, vector in zip(encoded["embeddings"], floats["embeddings"]):
        decoded = np.frombuffer(base64.b64decode(text_b64), dtype="<f4")
        # JSON floats are float32's shortest form: they parse back exactly.
        assert np.array_equal(decoded, np.array(vector, dtype=np.float32))
    bad = client.post(BOW + "/embed", json={"texts": texts, "encoding_format": "hex"})
    assert bad.status_code == 400


def test_full_queue_answers_429_with_retry_after_at_once(make_app):
    # A long batch timeout keeps the first request queued while the second arrives.
    app = make_app(MODEL_NAMES="bow-spanish", MAX_QUEUE="1", BATCH_TIMEOUT_MS="3000")
    client = app.test_client()
    scheduler = app.extensions["registry"].get("bow-spanish").scheduler
    first = threading.Thread(target=client.post, args=(BOW + "/predict",),
                             kwargs={"json": {"title": "hola"}})
    first.start()
    deadline = time.monotonic() + 5
    while scheduler.depth() < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    response = client.post(BOW + "/predict", json={"title": "adiós"})
    # Refused while the first still waits for its batch: it waited for no run.
    assert scheduler.depth() == 1 and first.is_alive()
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert "MAX_QUEUE" in response.get_json()["message"]
    first.join()


def test_request_waiting_past_its_timeout_gets_503(make_app, tmp_path):
    client = make_app(MODEL_NAMES="bow-spanish", REQUEST_TIMEOUT_MS="200",
                      BATCH_TIMEOUT_MS="2000").test_client()
    # Its batch would run after 2 s and answer 200: a 503 is the timeout's.
    response = client.post(BOW + "/predict", json={"title": "hola"})
    assert response.status_code == 503
    assert "REQUEST_TIMEOUT_MS" in response.get_json()["message"]
    assert response.headers["Retry-After"] == "1"
    assert "REQUEST_TIMEOUT_MS" in response.get_json()["message"]
    # An overload is no server fault: its access-log line, no traceback.
    log = (tmp_path / "api.log").read_text()
    assert " 503 " in log and "Traceback" not in log


def test_inference_error_is_a_logged_counted_503_for_that_model_only(make_app, tmp_path):
    app = make_app(MODEL_NAMES="lstm-multilingual,bow-spanish")
    servable = app.extensions["registry"].get("lstm-multilingual")
    errors_before = metric_value(app, "embedding_inference_errors_total",
                                 model="lstm-multilingual")
    # A real TensorFlow failure: a word whose id lies beyond the embedding matrix.
    original = servable.vocabulary._ids
    servable.vocabulary._ids = {**original, "veneno": 10 ** 7}
    try:
        response = app.test_client().post(LSTM + "/predict", json={"title": "veneno"},
                                          headers={"X-Request-ID": "boom-1"})
    finally:
        servable.vocabulary._ids = original
    assert response.status_code == 503
    assert "boom-1" in response.get_json()["message"]
    log = (tmp_path / "api.log").read_text()
    assert "server error (request id boom-1)" in log
    # One record, with its traceback (and its cause's); not again by flask-restx.
    assert log.count(" ERROR ") == 1 and "Traceback" in log
    assert metric_value(app, "embedding_inference_errors_total",
                        model="lstm-multilingual") == errors_before + 1
    other = app.test_client().post("/api/v1/models/bow-spanish/predict", json={"title": "hola"})
    assert other.status_code == 200  # the other model is untouched
    ok = app.test_client().post(LSTM + "/predict", json={"title": "hola"})
    assert ok.status_code == 200  # and this one keeps serving


def test_session_callable_falls_back_to_the_public_path():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        y = tf.identity(x * 2.0, name="y")
    with tf.compat.v1.Session(graph=graph) as session:

        class PublicOnly:
            """A real session seen without its private fast path."""

            def make_callable(self, *args):
                return session.make_callable(*args)

        fast = session_callable(session, [x], y)
        public = session_callable(PublicOnly(), [x], y)
        values = np.array([1.0, 2.5], dtype=np.float32)
        assert fast(values)[0].tolist() == public(values)[0].tolist() == [2.0, 5.0]


def test_timing_headers_say_where_the_time_went(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", BATCH_TIMEOUT_MS="200").test_client()
    for path, body in (("/predict", {"title": "hola"}), ("/embed", {"texts": ["hola"]})):
        response = client.post(BOW + path, json=body)
        assert response.status_code == 200
        queued = float(response.headers["X-Queue-Time"])
        inference = float(response.headers["X-Inference-Time"])
        assert 150 <= queued < 2000  # it waited for the batch timeout
        assert 0 < inference < 2000
