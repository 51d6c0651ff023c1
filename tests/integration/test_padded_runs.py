"""Rows of very different lengths run apart, with the same vectors as one
run would give (real TensorFlow models; the planning itself is unit-tested
in tests/unit/test_padding.py)."""
from __future__ import annotations

import numpy as np
import pytest

from embedding_server.serving.registry import Registry
from embedding_server.settings import Settings

SHORT = ["hola mundo", "el perro come en la casa", "the cat sleeps", "bonjour"] * 4
LONG = " ".join(["palabra", "casa", "perro", "mundo", "house", "maison"] * 50)  # 300 words


def load(models_dir, max_tokens: int) -> Registry:
    registry = Registry(Settings(MODELS_BASE_DIR=str(models_dir),
                                 MODEL_NAMES=("bow-spanish", "lstm-multilingual"),
                                 BATCHING=False, BATCH_MAX_TOKENS=max_tokens, TF_THREADS=1))
    registry.load_all()
    return registry


@pytest.fixture(scope="module")
def registry(models_dir):
    registry = load(models_dir, 65536)
    yield registry
    registry.close()


@pytest.fixture(scope="module")
def tight(models_dir):
    registry = load(models_dir, 40)  # bow-spanish: 2 rows of 20 ids a run
    yield registry
    registry.close()


def counting(servable):
    """The servable's own runner, counting its model runs."""
    calls = []
    run = servable.runner.run

    def counted(ids, lengths, parameters=None):
        calls.append(ids.shape)
        return run(ids, lengths, parameters)

    servable.runner.run = counted
    return calls


def test_a_long_text_among_short_ones_runs_apart_with_the_same_vectors(registry):
    servable = registry.get("lstm-multilingual")
    texts = SHORT[:7] + [LONG] + SHORT[7:]
    alone = np.stack([servable.embed([text]).vectors[0] for text in texts])
    calls = counting(servable)
    try:
        together = servable.embed(texts).vectors
    finally:
        del servable.runner.run
    assert [shape[0] for shape in calls] == [len(SHORT), 1]  # short rows first, then the long
    assert calls[0][1] < 10 and calls[1][1] == 300
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_rows_of_like_length_still_share_one_run(registry):
    servable = registry.get("lstm-multilingual")
    calls = counting(servable)
    try:
        servable.embed(SHORT)
    finally:
        del servable.runner.run
    assert len(calls) == 1


def test_the_token_bound_splits_a_fixed_width_model_in_order(registry, tight):
    texts = SHORT[:5]
    expected = registry.get("bow-spanish").embed(texts).vectors
    servable = tight.get("bow-spanish")
    calls = counting(servable)
    try:
        vectors = servable.embed(texts).vectors
    finally:
        del servable.runner.run
    assert [shape for shape in calls] == [(2, 20), (2, 20), (1, 20)]
    np.testing.assert_allclose(vectors, expected, rtol=1e-5, atol=1e-6)


def test_the_api_answers_a_mixed_request_in_input_order(client):
    texts = [SHORT[1], LONG, SHORT[0]]  # the run of short texts is [2, 0]: out of order
    body = client.post("/api/v1/models/lstm-multilingual/embed", json={"texts": texts}).get_json()
    for text, vector in zip(texts, body["embeddings"]):
        alone = client.post("/api/v1/models/lstm-multilingual/embed",
                            json={"texts": [text]}).get_json()["embeddings"][0]
        np.testing.assert_allclose(vector, alone, rtol=1e-5, atol=1e-6)
    assert len(body["tokens"][1]) == 300
