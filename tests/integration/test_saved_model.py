"""TF2 SavedModels served like TF1 models, on real SavedModels built here."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

TEXTS = ["Hola mundo, ¿qué tal?", "el perro come la comida en la casa grande " * 4,
         "zzyzx qwxz", "123 !!!"]


@pytest.fixture()
def both(make_app):
    return make_app(MODEL_NAMES="bow-spanish,bow-spanish-tf2").test_client()


def embed(client, model, texts, **extra):
    response = client.post(f"/api/v1/models/{model}/embed", json={"texts": texts, **extra})
    assert response.status_code == 200, response.get_json()
    return np.array(response.get_json()["embeddings"])


def test_status_says_saved_model(both):
    status = both.get("/api/v1/models/bow-spanish-tf2").get_json()
    assert status["state"] == "AVAILABLE"
    assert (status["format"], status["checkpoint_format"]) == ("saved_model", "SavedModel")
    assert (status["embedding_dim"], status["max_length"]) == (300, 20)


def test_same_embeddings_as_the_tf1_model(both):
    tf1, tf2 = embed(both, "bow-spanish", TEXTS), embed(both, "bow-spanish-tf2", TEXTS)
    assert np.abs(tf1 - tf2).max() < 1e-5
    one = both.post("/api/v1/models/bow-spanish-tf2/predict", json={"title": TEXTS[0]}
                    ).get_json()["ModelPrediction"]
    assert one["tokenizedTitle"] == ["hola", "mundo", "qué", "tal"]
    assert np.abs(np.array(one["modelPrediction"]) - tf1[0]).max() < 1e-5


def test_every_endpoint_serves_it(both):
    model = "bow-spanish-tf2"
    assert both.post(f"/api/v1/models/{model}/similarity",
                     json={"source": "hola", "targets": ["hola"]}).get_json()[
        "similarities"][0] == pytest.approx(1.0, abs=1e-6)
    assert both.post(f"/api/v1/models/{model}/tokenize", json={"texts": ["hola"]}
                     ).status_code == 200
    assert both.post("/v1/embeddings", json={"model": model, "input": "hola"}).status_code == 200
    assert both.post(f"/v1/models/{model}:predict", json={"instances": ["hola"]}
                     ).status_code == 200
    assert both.post(f"/api/v1/models/{model}/predict",
                     json={"title": "hola", "title_dropout": 0.5}).status_code == 400


def test_numeric_versions_of_a_saved_model(models_dir, tmp_path, make_app):
    shutil.copytree(models_dir / "bow-spanish-tf2", tmp_path / "bow-spanish-tf2" / "3")
    client = make_app(tmp_path, MODEL_NAMES="bow-spanish-tf2").test_client()
    assert client.get("/api/v1/models/bow-spanish-tf2").get_json()["version"] == 3


def broken_copy(models_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bow-spanish-tf2"
    shutil.copytree(models_dir / "bow-spanish-tf2", target)
    return target


@pytest.mark.parametrize("fault, message", [
    ("no variables", "missing directory 'variables'"),
    ("garbage graph", "cannot be loaded"),
    ("no vocabulary", "missing file 'word_mapping.json'"),
    ("bad section", "unknown key 'colour'"),
    ("wrong output", "cannot tell which output"),
])
def test_faults_fail_the_model_with_their_reason(models_dir, tmp_path, make_app, fault,
                                                 message):
    target = broken_copy(models_dir, tmp_path)
    config = json.loads((target / "net_config.json").read_text())
    if fault == "no variables":
        shutil.rmtree(target / "variables")
    elif fault == "garbage graph":
        (target / "saved_model.pb").write_bytes(b"not a protobuf at all")
    elif fault == "no vocabulary":
        (target / "word_mapping.json").unlink()
    elif fault == "bad section":
        config["serving"]["colour"] = "blue"
    elif fault == "wrong output":
        config["serving"]["output"] = "logits"
    (target / "net_config.json").write_text(json.dumps(config))
    client = make_app(tmp_path, MODEL_NAMES="bow-spanish-tf2").test_client()
    status = client.get("/api/v1/models/bow-spanish-tf2").get_json()
    assert status["state"] == "FAILED"
    assert message in status["error"]


class _TextModel(tf.Module):
    """A SavedModel that tokenizes for itself: hashed words, averaged."""

    def __init__(self):
        super().__init__()
        self.table = tf.Variable(np.random.default_rng(1).normal(size=(64, 8)), dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def serve(self, sentences):
        words = tf.strings.split(tf.strings.lower(sentences))
        buckets = tf.strings.to_hash_bucket_fast(words, 64)
        vectors = tf.ragged.map_flat_values(tf.nn.embedding_lookup, self.table, buckets)
        return {"vector": tf.reduce_mean(vectors, axis=1)}


def test_a_saved_model_that_takes_raw_strings(tmp_path, make_app):
    module = _TextModel()
    tf.saved_model.save(module, str(tmp_path / "texty"),
                        signatures={"serving_default": module.serve})
    client = make_app(tmp_path, MODEL_NAMES="texty").test_client()
    status = client.get("/api/v1/models/texty").get_json()
    assert status["state"] == "AVAILABLE" and status["embedding_dim"] == 8
    vectors = embed(client, "texty", ["Hello World", "hello world", "other words"])
    assert np.allclose(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])
    expected = module.serve(tf.constant(["Hello World"]))["vector"].numpy()[0]
    assert np.allclose(vectors[0], expected, atol=1e-6)
    predicted = client.post("/api/v1/models/texty/predict", json={"title": "Hello World"})
    assert predicted.get_json()["ModelPrediction"]["tokenizedTitle"] == ["hello", "world"]
    ids = client.post("/v1/embeddings", json={"model": "texty", "input": [1, 2]})
    assert ids.status_code == 400 and "takes text" in ids.get_json()["error"]["message"]
