"""The HTTP API through Flask's test client, against real demo models."""
import json

import numpy as np
import pytest

from tests.conftest import copy_model

BOW = "/api/v1/models/bow-spanish"
LSTM = "/api/v1/models/lstm-multilingual"


def predict(client, url, **body):
    return client.post(url + "/predict", json=body)


def embed(client, url, **body):
    return client.post(url + "/embed", json=body)


def cosine(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_model_list(client):
    response = client.get("/api/v1/models")
    assert response.status_code == 200
    models = {m["name"]: m for m in response.get_json()["models"]}
    assert set(models) == {"bow-spanish", "lstm-multilingual", "bow-spanish-v2"}
    bow = models["bow-spanish"]
    assert bow["state"] == "AVAILABLE" and bow["error"] is None
    assert (bow["format"], bow["checkpoint_format"]) == ("tf1", "V1")
    assert (bow["embedding_dim"], bow["max_length"]) == (300, 20)
    assert bow["vocabulary_size"] >= 20000
    lstm = models["lstm-multilingual"]
    assert (lstm["embedding_dim"], lstm["max_length"], lstm["checkpoint_format"]) == (
        256, 2000, "V2")
    assert lstm["vocabulary_size"] >= 20000


def test_model_status_and_unknown_model(client):
    assert client.get(BOW).get_json()["name"] == "bow-spanish"
    response = client.get("/api/v1/models/nope")
    assert response.status_code == 404
    assert "not configured" in response.get_json()["message"]


def test_predict_seed_shape(client):
    response = predict(client, BOW, title="Hola mundo, ¿qué tal? zzyzx")
    assert response.status_code == 200
    result = response.get_json()["ModelPrediction"]
    assert result["modelName"] == "bow-spanish"
    assert result["tokenizedTitle"] == ["hola", "mundo", "qué", "tal", "<OOV>"]
    assert '"qué"' in response.get_data(as_text=True)  # not "qu\u00e9"
    assert len(result["modelPrediction"]) == 300
    assert all(isinstance(x, float) for x in result["modelPrediction"])


def test_tokenized_title_is_before_truncation_and_the_last_20_words_count(client):
    words = ("casa perro gato mesa silla libro agua fuego tierra cielo mar sol luna "
             "río monte campo ciudad pueblo calle plaza puerta ventana techo suelo pared "
             "jardín árbol flor hoja rama").split()
    assert len(words) == 30
    result = predict(client, BOW, title=" ".join(words)).get_json()["ModelPrediction"]
    assert result["tokenizedTitle"] == words
    expected = predict(client, BOW, title=" ".join(words[-20:])).get_json()["ModelPrediction"]
    assert result["modelPrediction"] == pytest.approx(expected["modelPrediction"], abs=1e-6)
    first_20 = predict(client, BOW, title=" ".join(words[:20])).get_json()["ModelPrediction"]
    assert first_20["modelPrediction"] != pytest.approx(expected["modelPrediction"], abs=1e-6)


def test_bow_ignores_length_as_the_seed_did(client):
    a = predict(client, BOW, title="uno dos tres cuatro", length=1).get_json()
    b = predict(client, BOW, title="uno dos tres cuatro").get_json()
    assert a == b


def test_lstm_length_truncates(client):
    text = "the house is very big and the garden is green"
    full = predict(client, LSTM, title=text).get_json()["ModelPrediction"]
    cut = predict(client, LSTM, title=text, length=3).get_json()["ModelPrediction"]
    three = predict(client, LSTM, title="the house is").get_json()["ModelPrediction"]
    assert cut["tokenizedTitle"] == full["tokenizedTitle"]
    assert cut["modelPrediction"] == pytest.approx(three["modelPrediction"], abs=1e-5)
    assert cut["modelPrediction"] != pytest.approx(full["modelPrediction"], abs=1e-5)


def test_title_without_tokens_is_embedded_as_padding(client):
    result = predict(client, BOW, title="123 !!!").get_json()["ModelPrediction"]
    assert result["tokenizedTitle"] == []
    assert len(result["modelPrediction"]) == 300


def test_dropout_keep_probabilities_are_fed(client):
    title = "el perro come la comida en la casa"
    default = predict(client, BOW, title=title).get_json()["ModelPrediction"]
    explicit = predict(client, BOW, title=title, title_dropout=1.0,
                       dense_dropout=1).get_json()["ModelPrediction"]
    assert default["modelPrediction"] == explicit["modelPrediction"]
    dropped = predict(client, BOW, title=title, title_dropout=0.1).get_json()["ModelPrediction"]
    assert dropped["modelPrediction"] != default["modelPrediction"]


def test_model_without_dropout_parameters_rejects_them(client):
    response = predict(client, LSTM, title="hello", title_dropout=0.5)
    assert response.status_code == 400
    assert "does not take title_dropout" in response.get_json()["message"]


@pytest.mark.parametrize("url", [BOW, LSTM])
def test_embed_matches_predict_in_order(client, url):
    texts = ["Hola mundo", "the quick brown fox jumps over the lazy dog", "123",
             "Bonjour le monde, comment ça va aujourd'hui?", "ciao"]
    response = embed(client, url, texts=texts)
    assert response.status_code == 200
    body = response.get_json()
    assert body["model"] == url.rsplit("/", 1)[1]
    assert len(body["embeddings"]) == len(texts) == len(body["tokens"])
    assert body["dimension"] == len(body["embeddings"][0])
    for text, vector, tokens in zip(texts, body["embeddings"], body["tokens"]):
        single = predict(client, url, title=text).get_json()["ModelPrediction"]
        assert tokens == single["tokenizedTitle"]
        assert vector == pytest.approx(single["modelPrediction"], abs=1e-5)


def test_embed_normalize(client):
    body = embed(client, LSTM, texts=["hola mundo", "!!!"], normalize=True).get_json()
    assert np.linalg.norm(body["embeddings"][0]) == pytest.approx(1.0, abs=1e-5)
    assert not any(body["embeddings"][1])


def test_v1_and_v2_checkpoints_give_the_same_embeddings(client):
    texts = ["la casa es grande", "el perro y el gato"]
    v1 = embed(client, BOW, texts=texts).get_json()["embeddings"]
    v2 = embed(client, "/api/v1/models/bow-spanish-v2", texts=texts).get_json()["embeddings"]
    assert np.allclose(v1, v2, atol=1e-6)


def test_bow_texts_sharing_words_are_closer_than_texts_sharing_none(client):
    pairs = [
        ("el perro come carne en la casa", "el perro duerme en la casa",
         "mañana lloverá sobre montañas lejanas"),
        ("quiero comprar un coche nuevo", "vendo coche nuevo barato",
         "música clásica para dormir tranquilo"),
        ("receta de tortilla de patatas", "tortilla de patatas con cebolla",
         "resultados del partido de fútbol"),
    ]
    for anchor, sharing, disjoint in pairs:
        vectors = embed(client, BOW, texts=[anchor, sharing, disjoint]).get_json()["embeddings"]
        assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])


def test_predict_bad_requests(client):
    cases = [
        (b"{not json", 400), (b'"a string"', 400), (b"[]", 400), (b"{}", 400),
        (b'{"title": 5}', 400), (b'{"title": "x", "colour": "red"}', 400),
        (b'{"title": "x", "length": 0}', 400), (b'{"title": "x", "length": 2001}', 400),
        (b'{"title": "x", "title_dropout": 0}', 400),
        (b'{"title": "x", "dense_dropout": 1.01}', 400),
        (b'{"title": ""}', 422), (b"\xff\xfe", 400),
    ]
    for data, status in cases:
        response = client.post(BOW + "/predict", data=data, content_type="application/json")
        assert response.status_code == status, data
        assert isinstance(response.get_json()["message"], str)


def test_embed_bad_requests(client):
    assert embed(client, BOW, texts=[]).status_code == 422
    assert embed(client, BOW, texts=["a", ""]).status_code == 422
    assert embed(client, BOW, texts="abc").status_code == 400
    assert embed(client, BOW, texts=["a", 3]).status_code == 400
    assert embed(client, BOW, texts=["a"], normalize="yes").status_code == 400
    assert embed(client, BOW, text=["a"]).status_code == 400
    response = embed(client, BOW, texts=["a"] * 257)
    assert response.status_code == 413 and "MAX_BATCH_TEXTS" in response.get_json()["message"]


def test_body_over_max_content_length(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", MAX_CONTENT_LENGTH="1000").test_client()
    response = client.post(BOW + "/predict", json={"title": "palabra " * 200})
    assert response.status_code == 413
    assert "message" in response.get_json()
    assert client.post(BOW + "/predict", json={"title": "hola"}).status_code == 200


def test_max_batch_texts_is_configurable(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", MAX_BATCH_TEXTS="2").test_client()
    assert embed(client, BOW, texts=["a", "b"]).status_code == 200
    assert embed(client, BOW, texts=["a", "b", "c"]).status_code == 413


def test_unknown_model_on_every_endpoint(client):
    for path in ("/predict", "/embed"):
        response = client.post("/api/v1/models/nope" + path, json={"title": "x", "texts": ["x"]})
        assert response.status_code == 404


def test_broken_model_beside_a_good_one(models_dir, tmp_path, make_app):
    copy_model(models_dir, "bow-spanish", tmp_path / "models" / "bow-spanish")
    broken = copy_model(models_dir, "lstm-multilingual", tmp_path / "models" / "lstm-multilingual")
    (broken / "word_mapping.json").write_text("[1, 2]")
    client = make_app(tmp_path / "models").test_client()
    states = {m["name"]: m for m in client.get("/api/v1/models").get_json()["models"]}
    assert states["bow-spanish"]["state"] == "AVAILABLE"
    assert states["lstm-multilingual"]["state"] == "FAILED"
    assert "word_mapping.json must be a JSON object" in states["lstm-multilingual"]["error"]
    response = predict(client, LSTM, title="hello")
    assert response.status_code == 503
    assert "FAILED" in response.get_json()["message"]
    assert embed(client, LSTM, texts=["hello"]).status_code == 503
    assert predict(client, BOW, title="hola").status_code == 200


def test_server_starts_when_every_model_fails(tmp_path, make_app):
    client = make_app(tmp_path / "no-models").test_client()
    models = client.get("/api/v1/models").get_json()["models"]
    assert {m["state"] for m in models} == {"FAILED"}
    assert predict(client, BOW, title="hola").status_code == 503


def test_request_id_is_echoed_or_generated(client):
    response = client.get("/api/v1/models", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    generated = client.get("/api/v1/models").headers["X-Request-ID"]
    assert len(generated) == 32


def test_every_request_is_logged_with_method_path_status_duration_and_id(make_app, tmp_path):
    client = make_app(MODEL_NAMES="bow-spanish").test_client()
    client.post(BOW + "/predict", json={"title": ""}, headers={"X-Request-ID": "log-me"})
    log = (tmp_path / "api.log").read_text()
    line = next(line for line in log.splitlines() if "request_id=log-me" in line)
    assert "POST /api/v1/models/bow-spanish/predict 422" in line and "ms" in line


def test_unknown_path_and_method_are_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "message" in response.get_json()
    response = client.delete(BOW + "/predict")
    assert response.status_code == 405 and "message" in response.get_json()


def test_no_stack_trace_reaches_a_client(client, monkeypatch):
    servable = client.application.extensions["registry"].get("bow-spanish")

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(servable.runner, "run", explode)
    response = predict(client, BOW, title="hola")
    assert response.status_code == 503
    message = response.get_json()["message"]
    assert "secret" not in message and "Traceback" not in message
    assert response.headers["X-Request-ID"] in message


def test_garbage_inputs_never_cause_a_server_error(client):
    bodies = [b"", b"null", b"1e999", b'{"title": null}', b'{"title": []}',
              b'{"title": "x", "length": null}', b'{"texts": null}', b'{"texts": [null]}',
              json.dumps({"title": "\ud800"}).encode(), b'{"title": "\\u0000"}',
              b'{"texts": [' + b'"a",' * 10 + b'"b"], "length": 1}']
    for url in (BOW, LSTM):
        for data in bodies:
            for path in ("/predict", "/embed"):
                response = client.post(url + path, data=data)
                assert response.status_code < 500, (url, path, data)


@pytest.mark.parametrize("content_type, status", [
    ("application/xml", 415), ("text/xml", 415), ("application/soap+xml", 415),
    ("multipart/form-data; boundary=x", 415), ("text/html", 415),
    ("application/x-www-form-urlencoded", 400), ("application/json", 400), (None, 400),
])
def test_a_body_that_is_not_json_says_a_json_body_is_expected(client, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    for path, key in ((BOW + "/predict", "message"), ("/v1/embeddings", "error"),
                      ("/v1/models/bow-spanish:predict", "error")):
        response = client.post(path, data=b"<title>hola</title>", headers=headers)
        assert response.status_code == status, (path, content_type)
        body = response.get_json()
        message = body[key]["message"] if isinstance(body[key], dict) else body[key]
        assert "a JSON body is expected" in message, (path, message)
    # curl's -d sends form-encoded by default: JSON in it is still read as JSON.
    response = client.post(BOW + "/predict", data=b'{"title": "hola"}',
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
