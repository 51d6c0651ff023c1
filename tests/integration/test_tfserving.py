"""TensorFlow Serving's REST API shapes, on the demo models."""
from __future__ import annotations

import numpy as np

from tests.integration.test_versions import add_version

BASE = "/v1/models/bow-spanish"


def native(client, texts):
    return np.array(client.post("/api/v1/models/bow-spanish/embed",
                                json={"texts": texts}).get_json()["embeddings"])


def test_model_status(client):
    response = client.get(BASE)
    assert response.status_code == 200
    assert response.get_json() == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}}]}
    assert client.get(BASE + "/versions/1").get_json() == response.get_json()
    missing = client.get(BASE + "/versions/7")
    assert missing.status_code == 404
    assert "Specific(bow-spanish, 7)" in missing.get_json()["error"]
    for digits in (19, 4301):  # past int64; past Python's int conversion limit
        huge = client.get(BASE + "/versions/" + "9" * digits)
        assert huge.status_code == 404
        assert f"a version of {digits} digits" in huge.get_json()["error"]
    assert client.get("/v1/models/nope").status_code == 404
    assert "error" in client.get("/v1/models/nope").get_json()


def test_failed_versions_show_as_end_with_their_error(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    add_version(models_dir, tmp_path, 2, broken=True)
    client = make_app(tmp_path, MODEL_NAMES="bow-spanish").test_client()
    statuses = client.get(BASE).get_json()["model_version_status"]
    assert [(s["version"], s["state"], s["status"]["error_code"]) for s in statuses] == [
        ("2", "END", "UNKNOWN"), ("1", "AVAILABLE", "OK")]
    assert "truncated or corrupt" in statuses[0]["status"]["error_message"]


def test_metadata_describes_the_text_in_embedding_out_signature(client):
    body = client.get(BASE + "/metadata").get_json()
    assert body["model_spec"] == {"name": "bow-spanish", "signature_name": "", "version": "1"}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["text"]["dtype"] == "DT_STRING"
    assert signature["outputs"]["embedding"]["tensor_shape"]["dim"][1]["size"] == "300"
    assert signature["method_name"] == "tensorflow/serving/predict"


def test_predict_row_and_columnar_formats(client):
    texts = ["hola mundo", "el perro come"]
    expected = native(client, texts)
    rows = client.post(BASE + ":predict", json={"instances": texts})
    assert rows.status_code == 200
    assert np.array_equal(np.array(rows.get_json()["predictions"]), expected)
    named = client.post(BASE + ":predict", json={"instances": [{"text": t} for t in texts]})
    assert np.array_equal(np.array(named.get_json()["predictions"]), expected)
    columns = client.post(BASE + "/versions/1:predict",
                          json={"signature_name": "serving_default", "inputs": texts})
    assert np.array_equal(np.array(columns.get_json()["outputs"]), expected)
    named_columns = client.post(BASE + ":predict", json={"inputs": {"text": texts}})
    assert np.array_equal(np.array(named_columns.get_json()["outputs"]), expected)


def test_predict_errors(client):
    cases = [({"instances": []}, 400), ({"instances": [1]}, 400), ({}, 400),
             ({"instances": ["a"], "inputs": ["a"]}, 400),
             ({"instances": ["a"], "signature_name": "other"}, 400),
             ({"instances": ["x"] * 257}, 413)]
    for body, status in cases:
        response = client.post(BASE + ":predict", json=body)
        assert response.status_code == status, body
        assert set(response.get_json()) == {"error"}
    assert client.post(BASE + "/versions/9:predict", json={"instances": ["a"]}
                       ).status_code == 404
    assert client.post(BASE + ":classify", json={"instances": ["a"]}).status_code == 404
    assert client.post(BASE, json={"instances": ["a"]}).status_code == 405
    assert client.post(BASE + ":predict", data=b"{").get_json()["error"]


def test_a_405_names_the_method_the_path_takes(client):
    reads, predicts = "GET, HEAD, OPTIONS", "OPTIONS, POST"
    for method, path, allow in [("POST", BASE, reads), ("POST", BASE + "/metadata", reads),
                                ("GET", BASE + ":predict", predicts),
                                ("GET", BASE + "/versions/1:predict", predicts)]:
        response = client.open(path, method=method, json={"instances": ["a"]})
        assert response.status_code == 405, path
        assert response.headers["Allow"] == allow, path
        assert set(response.get_json()) == {"error"}
        options = client.options(path)
        assert options.status_code == 200 and options.headers["Allow"] == allow
    head = client.head(BASE + "/metadata")
    assert head.status_code == 200 and head.data == b""


def test_keys_guard_it_with_its_own_error_shape(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", API_KEYS="k").test_client()
    denied = client.post(BASE + ":predict", json={"instances": ["hola"]})
    assert denied.status_code == 401 and set(denied.get_json()) == {"error"}
    assert client.post(BASE + ":predict", json={"instances": ["hola"]},
                       headers={"Authorization": "Bearer k"}).status_code == 200
