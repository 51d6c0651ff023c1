"""The OpenAI-compatible endpoints, driven by the official `openai` SDK over real HTTP."""
from __future__ import annotations

import base64
import threading

import numpy as np
import openai
import pytest
from werkzeug.serving import make_server

KEY = "sk-test-key"


@pytest.fixture()
def served(make_app):
    """The app on 127.0.0.1 (werkzeug, threaded), with an API key."""
    app = make_app(MODEL_NAMES="bow-spanish,lstm-multilingual", API_KEYS=KEY)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def sdk(base: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=30)


def native(app, model: str, texts: list[str]) -> np.ndarray:
    response = app.test_client().post(f"/api/v1/models/{model}/embed",
                                      json={"texts": texts, "normalize": True},
                                      headers={"X-API-Key": KEY})
    return np.array(response.get_json()["embeddings"], dtype=np.float32)


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_sdk_vectors_equal_the_native_ones(served, encoding):
    app, base = served
    texts = ["Hola mundo", "el perro come la comida", "zzyzx"]
    result = sdk(base).embeddings.create(model="bow-spanish", input=texts,
                                         encoding_format=encoding)
    assert result.object == "list" and result.model == "bow-spanish"
    assert [item.index for item in result.data] == [0, 1, 2]
    if encoding == "base64":  # asked for explicitly, the SDK hands the strings over
        vectors = np.stack([np.frombuffer(base64.b64decode(item.embedding), dtype="<f4")
                            for item in result.data])
    else:
        vectors = np.array([item.embedding for item in result.data], dtype=np.float32)
    assert np.array_equal(vectors, native(app, "bow-spanish", texts))
    assert result.usage.prompt_tokens == result.usage.total_tokens == 8  # 2 + 5 + 1 words


def test_the_sdk_default_encoding_and_a_single_string(served):
    """The SDK asks for base64 by default and decodes it itself."""
    app, base = served
    result = sdk(base).embeddings.create(model="lstm-multilingual", input="hello world")
    vector = np.array(result.data[0].embedding, dtype=np.float32)
    assert np.allclose(vector, native(app, "lstm-multilingual", ["hello world"])[0], atol=1e-6)
    assert abs(np.linalg.norm(vector) - 1) < 1e-5


def test_dimensions_truncate_then_renormalize(served):
    app, base = served
    result = sdk(base).embeddings.create(model="bow-spanish", input=["hola"], dimensions=8)
    vector = np.array(result.data[0].embedding)
    full = native(app, "bow-spanish", ["hola"])[0][:8]
    assert vector.shape == (8,) and np.allclose(vector, full / np.linalg.norm(full), atol=1e-6)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(base).embeddings.create(model="bow-spanish", input=["hola"], dimensions=301)
    assert caught.value.body["param"] == "dimensions"


def test_the_sdk_sends_truncate_as_an_extra_body_field(served):
    app, base = served
    long_text = "hola mundo " * 3000  # 33,000 characters, over MAX_TEXT_CHARS
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(base).embeddings.create(model="bow-spanish", input=long_text)
    assert caught.value.status_code == 413
    result = sdk(base).embeddings.create(model="bow-spanish", input=long_text,
                                         extra_body={"truncate": True})
    cut = long_text[:app.config["MAX_TEXT_CHARS"]]
    assert np.allclose(result.data[0].embedding, native(app, "bow-spanish", [cut])[0],
                       atol=1e-6)


def test_token_id_inputs_use_the_models_ids(served):
    app, base = served
    ids = app.test_client().post("/api/v1/models/bow-spanish/tokenize",
                                 json={"texts": ["hola mundo"]},
                                 headers={"X-API-Key": KEY}).get_json()["texts"][0]["ids"]
    client = sdk(base)
    one = client.embeddings.create(model="bow-spanish", input=ids)
    many = client.embeddings.create(model="bow-spanish", input=[ids, ids[:1]])
    expected = native(app, "bow-spanish", ["hola mundo", "hola"])
    assert np.allclose(one.data[0].embedding, expected[0], atol=1e-6)
    assert np.allclose([d.embedding for d in many.data], expected, atol=1e-6)
    assert one.usage.prompt_tokens == 2
    with pytest.raises(openai.BadRequestError, match="outside this model's vocabulary"):
        client.embeddings.create(model="bow-spanish", input=[10 ** 9])


def test_models_list(served):
    _, base = served
    listed = sdk(base).models.list()
    assert {model.id for model in listed.data} == {"bow-spanish", "lstm-multilingual"}


def test_errors_in_openai_shape(served):
    _, base = served
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(base, key="wrong").embeddings.create(model="bow-spanish", input="hola")
    assert caught.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(base).embeddings.create(model="nope", input="hola")
    assert caught.value.body["code"] == "model_not_found"
    assert caught.value.body["param"] == "model"
    for bad in ([], "", [""], [[1], "x"], [True]):
        with pytest.raises(openai.BadRequestError) as caught:
            sdk(base).embeddings.create(model="bow-spanish", input=bad)
        assert caught.value.body["type"] == "invalid_request_error"
        assert caught.value.body["param"] == "input"


def test_raw_http_shape_and_alias(served, make_app):
    app, _ = served
    client = app.test_client()
    headers = {"Authorization": f"Bearer {KEY}"}
    for path in ("/v1/embeddings", "/embeddings"):
        response = client.post(path, json={"model": "bow-spanish", "input": "hola"},
                               headers=headers)
        assert response.status_code == 200
        body = response.get_json()
        assert set(body) == {"object", "data", "model", "usage"}
        assert body["data"][0]["object"] == "embedding"
    bad = client.post("/v1/embeddings", headers=headers,
                      json={"model": "bow-spanish", "input": "x", "colour": 1})
    assert bad.status_code == 400
    assert bad.get_json()["error"] == {"message": "unknown field(s): colour; accepted: "
                                       "dimensions, encoding_format, input, model, "
                                       "truncate, user",
                                       "type": "invalid_request_error", "param": "colour",
                                       "code": None}
    assert client.post("/v1/embeddings", data=b"{", headers=headers).get_json()[
        "error"]["type"] == "invalid_request_error"


def test_every_api_applies_the_same_text_limits_and_truncate(make_app):
    """A text over MAX_TEXT_CHARS: 413 from the native, OpenAI and TF Serving
    APIs alike, and the same vector from each when the body says truncate."""
    app = make_app(MODEL_NAMES="bow-spanish", MAX_TEXT_CHARS="10")
    client = app.test_client()
    long_text = "hola mundo buenos días"
    calls = {
        "native": ("/api/v1/models/bow-spanish/embed", {"texts": [long_text]},
                   lambda body: body["embeddings"][0]),
        "openai": ("/v1/embeddings", {"model": "bow-spanish", "input": long_text},
                   lambda body: body["data"][0]["embedding"]),
        "tfserving": ("/v1/models/bow-spanish:predict", {"instances": [long_text]},
                      lambda body: body["predictions"][0]),
    }
    vectors = {}
    for api, (path, body, vector) in calls.items():
        assert client.post(path, json=body).status_code == 413, api
        cut = client.post(path, json={**body, "truncate": True})
        assert cut.status_code == 200, (api, cut.get_json())
        vectors[api] = np.asarray(vector(cut.get_json()))
    exact = client.post("/api/v1/models/bow-spanish/embed",
                        json={"texts": [long_text[:10]], "normalize": True}).get_json()
    expected = np.asarray(exact["embeddings"][0])
    assert np.allclose(vectors["openai"], expected, atol=1e-6)
    norm = np.linalg.norm(vectors["native"])
    assert np.allclose(vectors["native"] / norm, expected, atol=1e-6)
    assert np.allclose(vectors["tfserving"], vectors["native"], atol=1e-6)
