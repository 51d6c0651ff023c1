"""/similarity and /tokenize through the HTTP API, on the demo models."""
import numpy as np

BOW = "/api/v1/models/bow-spanish"
LSTM = "/api/v1/models/lstm-multilingual"


def test_similarity_is_the_cosine_of_the_embeddings(client):
    targets = ["el perro come carne", "la bolsa de valores cae", "zzyzx qwxz"]
    response = client.post(BOW + "/similarity",
                           json={"source": "el perro come", "targets": targets})
    assert response.status_code == 200
    body = response.get_json()
    assert body["model"] == "bow-spanish" and body["model_version"] == 1
    vectors = np.array(client.post(BOW + "/embed", json={
        "texts": ["el perro come", *targets]}).get_json()["embeddings"])
    expected = [float(vectors[0] @ v / np.linalg.norm(vectors[0]) / np.linalg.norm(v))
                for v in vectors[1:]]
    assert np.allclose(body["similarities"], expected, atol=1e-6)
    # Sharing words beats sharing none (the demo model averages word vectors).
    assert body["similarities"][0] > body["similarities"][1]


def test_similarity_of_a_text_with_no_known_word_is_zero(client):
    body = client.post(LSTM + "/similarity",
                       json={"source": "hello world", "targets": ["123 !!!"]}).get_json()
    assert body["similarities"] == [0.0]


def test_similarity_errors(client):
    assert client.post(BOW + "/similarity", json={"targets": ["x"]}).status_code == 400
    assert client.post(BOW + "/similarity", json={"source": "x", "targets": []}
                       ).status_code == 422
    assert client.post(BOW + "/similarity", json={"source": " ", "targets": ["x"]}
                       ).status_code == 422
    too_many = client.post(BOW + "/similarity", json={"source": "x", "targets": ["y"] * 256})
    assert too_many.status_code == 413  # the source shares the run: 255 targets at most
    assert client.post("/api/v1/models/nope/similarity",
                       json={"source": "x", "targets": ["y"]}).status_code == 404


def test_tokenize_shows_words_oov_tokens_ids_and_truncation(client):
    response = client.post(BOW + "/tokenize", json={"texts": ["Hola mundo zzyzx", "uno " * 25]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["max_length"] == 20 and body["model_version"] == 1
    first, second = body["texts"]
    assert first["words"] == ["hola", "mundo", "zzyzx"]
    assert first["oov"] == [False, False, True]
    assert first["tokens"] == ["hola", "mundo", "<OOV>"]
    assert first["ids"][2] == 1 and len(first["ids"]) == 3 and not first["truncated"]
    assert second["truncated"] and len(second["ids"]) == 25
    # The ids are the ones /embed feeds: the same text, the same vector.
    assert client.post(BOW + "/tokenize", json={"texts": ["hola"]}).get_json()[
        "texts"][0]["ids"] == first["ids"][:1]


def test_tokenize_length_applies_to_variable_length_models_only(client):
    lstm = client.post(LSTM + "/tokenize", json={"texts": ["hello big world"], "length": 2})
    assert lstm.get_json()["max_length"] == 2 and lstm.get_json()["texts"][0]["truncated"]
    bow = client.post(BOW + "/tokenize", json={"texts": ["hola"], "length": 2})
    assert bow.get_json()["max_length"] == 20


def test_tokenize_errors(client):
    assert client.post(BOW + "/tokenize", json={"texts": "hola"}).status_code == 400
    assert client.post(BOW + "/tokenize", json={"texts": []}).status_code == 422
    assert client.post(BOW + "/tokenize", json={"texts": ["x"], "extra": 1}).status_code == 400
