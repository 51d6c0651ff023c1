"""API keys, rate limits, input limits and response headers, through the HTTP API."""
from __future__ import annotations

import gzip
import hashlib

import pytest

from embedding_server.settings import ConfigError

BOW = "/api/v1/models/bow-spanish"
KEY = "s3cr3t-key"


@pytest.fixture()
def keyed(make_app):
    return make_app(MODEL_NAMES="bow-spanish", API_KEYS=f"{KEY},other-key").test_client()


def test_missing_or_wrong_key_is_401_with_www_authenticate(keyed):
    missing = keyed.post(BOW + "/predict", json={"title": "hola"})
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "API key is required" in missing.get_json()["message"]
    wrong = keyed.post(BOW + "/predict", json={"title": "hola"},
                       headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.get_json() == {"message": "invalid API key"}
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert keyed.get(BOW).status_code == 401
    assert keyed.post(BOW + "/reload").status_code == 401  # reload stays protected


def test_a_valid_key_in_either_header_passes(keyed):
    bearer = keyed.post(BOW + "/predict", json={"title": "hola"},
                        headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200
    header = keyed.post(BOW + "/embed", json={"texts": ["hola"]},
                        headers={"X-API-Key": "other-key"})
    assert header.status_code == 200


def test_probes_metrics_and_docs_stay_open(keyed):
    for path in ("/health/live", "/health/ready", "/metrics", "/api/v1/swagger.json",
                 "/api/v1/"):
        assert keyed.get(path).status_code == 200, path


def test_the_spec_declares_the_key_schemes(keyed):
    spec = keyed.get("/api/v1/swagger.json").get_json()
    assert spec["securityDefinitions"]["apiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert spec["securityDefinitions"]["bearer"]["name"] == "Authorization"
    assert {"apiKey": []} in spec["security"]


def test_keys_from_a_file_of_digests(make_app, tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("# team keys\n\n" + hashlib.sha256(b"from-file").hexdigest() + "\n")
    client = make_app(MODEL_NAMES="bow-spanish", API_KEYS_FILE=str(key_file)).test_client()
    assert client.post(BOW + "/predict", json={"title": "hola"},
                       headers={"X-API-Key": "from-file"}).status_code == 200
    assert client.post(BOW + "/predict", json={"title": "hola"},
                       headers={"X-API-Key": hashlib.sha256(b"from-file").hexdigest()}
                       ).status_code == 401


def test_a_bad_key_file_stops_the_start(make_app, tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("plain-key-not-a-digest\n")
    with pytest.raises(ConfigError, match="line 1 is not a SHA-256"):
        make_app(MODEL_NAMES="bow-spanish", API_KEYS_FILE=str(key_file))
    with pytest.raises(ConfigError, match="cannot be read"):
        make_app(MODEL_NAMES="bow-spanish", API_KEYS_FILE=str(tmp_path / "absent"))


def test_production_refuses_development_settings(make_app):
    with pytest.raises(ConfigError) as caught:
        make_app(FLASK_ENV="production", MODEL_NAMES="bow-spanish")
    message = str(caught.value)
    assert "SECRET_KEY is the public default" in message
    assert "set API_KEYS or API_KEYS_FILE, or ALLOW_ANONYMOUS=true" in message
    app = make_app(FLASK_ENV="production", MODEL_NAMES="bow-spanish",
                   SECRET_KEY="a-real-secret", ALLOW_ANONYMOUS="true")
    assert app.test_client().post(BOW + "/predict", json={"title": "hola"}).status_code == 200


def test_rate_limit_per_key_with_retry_after(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", API_KEYS="k1,k2",
                      RATE_LIMIT="3/minute").test_client()
    one = {"X-API-Key": "k1"}
    answers = [client.post(BOW + "/predict", json={"title": "hola"}, headers=one)
               for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert "message" in limited.get_json()
    # Another key has its own budget; probes are never limited.
    assert client.post(BOW + "/predict", json={"title": "hola"},
                       headers={"X-API-Key": "k2"}).status_code == 200
    assert all(client.get("/health/ready").status_code == 200 for _ in range(5))


def test_a_malformed_rate_limit_stops_the_start(make_app):
    with pytest.raises(ConfigError, match="RATE_LIMIT"):
        make_app(MODEL_NAMES="bow-spanish", RATE_LIMIT="lots per day")


def test_text_length_limit_and_truncate(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", MAX_TEXT_CHARS="20").test_client()
    long = "hola mundo " * 5
    too_long = client.post(BOW + "/embed", json={"texts": ["hola", long]})
    assert too_long.status_code == 413
    assert "'texts[1]' has 55 characters" in too_long.get_json()["message"]
    cut = client.post(BOW + "/embed", json={"texts": [long], "truncate": True})
    assert cut.status_code == 200
    # The first 20 characters: "hola mundo hola mund" (the last word cut short).
    assert cut.get_json()["tokens"] == [["hola", "mundo", "hola", "<OOV>"]]
    assert client.post(BOW + "/predict", json={"title": long}).status_code == 413
    assert client.post(BOW + "/predict", json={"title": long, "truncate": True}
                       ).status_code == 200
    assert client.post(BOW + "/predict", json={"title": "x", "truncate": "yes"}
                       ).status_code == 400


def test_gzip_bodies_are_accepted_and_limited_once_inflated(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", MAX_CONTENT_LENGTH="2000").test_client()
    body = b'{"texts": ["hola mundo", "buenos dias"]}'
    plain = client.post(BOW + "/embed", data=body).get_json()
    zipped = client.post(BOW + "/embed", data=gzip.compress(body),
                         headers={"Content-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.get_json() == plain
    bomb = gzip.compress(b'{"texts": ["' + b"a" * 100000 + b'"]}')
    assert len(bomb) < 2000
    too_big = client.post(BOW + "/embed", data=bomb, headers={"Content-Encoding": "gzip"})
    assert too_big.status_code == 413
    assert "decompressed body" in too_big.get_json()["message"]
    garbage = client.post(BOW + "/embed", data=b"not gzip",
                          headers={"Content-Encoding": "gzip"})
    assert garbage.status_code == 400
    truncated = client.post(BOW + "/embed", data=gzip.compress(body)[:-8],
                            headers={"Content-Encoding": "gzip"})
    assert truncated.status_code == 400
    other = client.post(BOW + "/embed", data=body, headers={"Content-Encoding": "br"})
    assert other.status_code == 415


def test_security_headers_on_every_response(client):
    for response in (client.get("/health/live"), client.get("/nowhere"),
                     client.post(BOW + "/predict", json={"title": "hola"})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "Strict-Transport-Security" not in client.get("/health/live").headers
    docs = client.get("/api/v1/")
    assert docs.status_code == 200 and "Content-Security-Policy" not in docs.headers
    assert docs.headers["X-Content-Type-Options"] == "nosniff"
    secure = client.get("/health/live", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_cors_is_off_unless_origins_are_set(client, make_app):
    origin = {"Origin": "https://app.example"}
    assert "Access-Control-Allow-Origin" not in client.get(BOW, headers=origin).headers
    cors = make_app(MODEL_NAMES="bow-spanish", CORS_ORIGINS="https://app.example").test_client()
    response = cors.get(BOW, headers=origin)
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    for path in (BOW + "/predict", "/v1/models/bow-spanish:predict", "/v1/embeddings"):
        preflight = cors.options(path, headers={
            **origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key"})
        assert preflight.status_code == 200, path
        assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_swagger_ui_can_be_turned_off(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", SWAGGER_UI="false").test_client()
    assert client.get("/api/v1/").status_code == 404
    assert client.get("/api/v1/swagger.json").status_code == 200


def test_behind_a_proxy_the_forwarded_address_is_the_client(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", TRUST_PROXY="1",
                      RATE_LIMIT="2/minute").test_client()
    first = {"X-Forwarded-For": "10.0.0.1"}
    codes = [client.get(BOW, headers=first).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get(BOW, headers={"X-Forwarded-For": "10.0.0.2"}).status_code == 200
