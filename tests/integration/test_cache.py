"""The in-process embedding cache through the HTTP API, on real models.

Metrics are process-wide, so each test compares them before and after.
"""
from __future__ import annotations

import numpy as np

from tests.integration.test_versions import add_version
from tests.metrics import metric_value

BOW = "/api/v1/models/bow-spanish"


class Counts:
    """Cache lookups, model runs and OOV words since the object was made."""

    NAMES = {"hit": ("embedding_cache_lookups_total", {"result": "hit"}),
             "miss": ("embedding_cache_lookups_total", {"result": "miss"}),
             "runs": ("embedding_batch_size_count", {}),
             "oov": ("embedding_oov_tokens_total", {})}

    def __init__(self, app):
        self.app = app
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        return {key: metric_value(self.app, name, model="bow-spanish", **labels)
                for key, (name, labels) in self.NAMES.items()}

    def since(self) -> dict[str, float]:
        now = self._now()
        return {key: now[key] - self.start[key] for key in now}


def test_a_repeated_text_is_a_hit_with_the_same_answer(make_app):
    app = make_app(MODEL_NAMES="bow-spanish", CACHE_SIZE="100")
    client = app.test_client()
    counts = Counts(app)
    first = client.post(BOW + "/predict", json={"title": "hola mundo zzyzx"}).get_json()
    assert counts.since() == {"hit": 0, "miss": 1, "runs": 1, "oov": 1}
    second = client.post(BOW + "/predict", json={"title": "hola mundo zzyzx"}).get_json()
    # No model run; the hit still counts as traffic, its OOV word included.
    assert counts.since() == {"hit": 1, "miss": 1, "runs": 1, "oov": 2}
    assert second == first


def test_hits_and_misses_mix_in_input_order(make_app):
    cached = make_app(MODEL_NAMES="bow-spanish", CACHE_SIZE="100").test_client()
    plain = make_app(MODEL_NAMES="bow-spanish").test_client()
    texts = ["uno", "dos tres", "cuatro", "hola"]
    cached.post(BOW + "/embed", json={"texts": texts[1:3]})
    for normalize in (False, True):
        body = {"texts": texts, "normalize": normalize}
        mixed = cached.post(BOW + "/embed", json=body).get_json()
        reference = plain.post(BOW + "/embed", json=body).get_json()
        assert mixed["tokens"] == reference["tokens"]
        assert np.array_equal(np.array(mixed["embeddings"]), np.array(reference["embeddings"]))


def test_dropout_requests_bypass_the_cache(make_app):
    app = make_app(MODEL_NAMES="bow-spanish", CACHE_SIZE="100")
    client = app.test_client()
    counts = Counts(app)
    for _ in range(2):
        client.post(BOW + "/predict", json={"title": "hola", "title_dropout": 0.5})
    assert counts.since() == {"hit": 0, "miss": 0, "runs": 2, "oov": 0}


def test_a_new_version_never_serves_the_old_versions_entries(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish", CACHE_SIZE="100", MODEL_SETTLE_MS="0")
    client = app.test_client()
    counts = Counts(app)
    client.post(BOW + "/predict", json={"title": "hola"})
    client.post(BOW + "/predict", json={"title": "hola"})
    assert (counts.since()["hit"], counts.since()["miss"]) == (1, 1)
    add_version(models_dir, tmp_path, 2)
    assert client.post(BOW + "/reload").get_json()["version"] == 2
    answer = client.post(BOW + "/predict", json={"title": "hola"}).get_json()
    assert answer["model_version"] == 2
    assert (counts.since()["hit"], counts.since()["miss"]) == (1, 2)
