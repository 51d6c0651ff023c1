"""The OpenAPI document covers the whole API, and the app answers as it says.

Both directions of the URL map are checked, so a route added without its
spec (or a spec path nothing serves) fails here; then real requests to every
operation, 200s and errors, are validated against the document's schemas.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft4Validator

SPEC = "/api/v1/swagger.json"
#: The documentation's own routes, which a spec does not list.
UNDOCUMENTED = {"static", "api.specs", "api.doc", "api.root", "restx_doc.static"}
GROUPS = {"native", "openai", "tfserving", "operations"}
IMPLICIT = {"HEAD", "OPTIONS"}
#: What each path parameter stands for in a real request.
EXAMPLES = {"name": "bow-spanish", "version": "1"}

#: (spec path, method, request path, JSON body or None, status expected).
CALLS: list[tuple[str, str, str, Any, int]] = [
    ("/api/v1/models", "get", "/api/v1/models", None, 200),
    ("/api/v1/models/{name}", "get", "/api/v1/models/bow-spanish", None, 200),
    ("/api/v1/models/{name}", "get", "/api/v1/models/nope", None, 404),
    ("/api/v1/models/{name}/predict", "post", "/api/v1/models/bow-spanish/predict",
     {"title": "Hola mundo", "length": 20}, 200),
    ("/api/v1/models/{name}/predict", "post", "/api/v1/models/bow-spanish/predict",
     {"title": ""}, 422),
    ("/api/v1/models/{name}/predict", "post", "/api/v1/models/bow-spanish/predict",
     {"titel": "x"}, 400),
    ("/api/v1/models/{name}/embed", "post", "/api/v1/models/lstm-multilingual/embed",
     {"texts": ["Hola mundo", "hello world"]}, 200),
    ("/api/v1/models/{name}/embed", "post", "/api/v1/models/bow-spanish/embed",
     {"texts": ["x"] * 257}, 413),
    ("/api/v1/models/{name}/embed", "post", "/api/v1/models/nope/embed",
     {"texts": ["x"]}, 404),
    ("/api/v1/models/{name}/similarity", "post", "/api/v1/models/bow-spanish/similarity",
     {"source": "el perro come", "targets": ["el perro", "la bolsa"]}, 200),
    ("/api/v1/models/{name}/tokenize", "post", "/api/v1/models/bow-spanish/tokenize",
     {"texts": ["Hola mundo zzyzx"]}, 200),
    ("/api/v1/models/{name}/reload", "post", "/api/v1/models/bow-spanish/reload", None, 200),
    ("/v1/embeddings", "post", "/v1/embeddings",
     {"model": "bow-spanish", "input": ["Hola mundo", "adiós"]}, 200),
    ("/v1/embeddings", "post", "/v1/embeddings",
     {"model": "bow-spanish", "input": "hola", "encoding_format": "base64"}, 200),
    ("/v1/embeddings", "post", "/v1/embeddings", {"model": "nope", "input": "x"}, 404),
    ("/v1/embeddings", "post", "/v1/embeddings", {"input": "x"}, 400),
    ("/embeddings", "post", "/embeddings", {"model": "bow-spanish", "input": "hola"}, 200),
    ("/v1/models", "get", "/v1/models", None, 200),
    ("/v1/models/{name}", "get", "/v1/models/bow-spanish", None, 200),
    ("/v1/models/{name}", "get", "/v1/models/nope", None, 404),
    ("/v1/models/{name}/versions/{version}", "get", "/v1/models/bow-spanish/versions/1",
     None, 200),
    ("/v1/models/{name}/metadata", "get", "/v1/models/bow-spanish/metadata", None, 200),
    ("/v1/models/{name}/versions/{version}/metadata", "get",
     "/v1/models/bow-spanish/versions/1/metadata", None, 200),
    ("/v1/models/{name}:predict", "post", "/v1/models/bow-spanish:predict",
     {"instances": ["Hola mundo", {"text": "adiós"}]}, 200),
    ("/v1/models/{name}:predict", "post", "/v1/models/bow-spanish:predict",
     {"inputs": {"text": ["Hola mundo"]}}, 200),
    ("/v1/models/{name}:predict", "post", "/v1/models/bow-spanish:predict",
     {"instances": ["x"] * 257}, 413),
    ("/v1/models/{name}/versions/{version}:predict", "post",
     "/v1/models/bow-spanish/versions/1:predict", {"instances": ["hola"]}, 200),
    ("/v1/models/{name}/versions/{version}:predict", "post",
     "/v1/models/bow-spanish/versions/9:predict", {"instances": ["hola"]}, 404),
    ("/health/live", "get", "/health/live", None, 200),
    ("/health/ready", "get", "/health/ready", None, 200),
    ("/metrics", "get", "/metrics", None, 200),
]
#: Errors every body-taking operation documents, sent to each of them.
NOT_JSON = ("application/xml", b"<text>hola</text>", 415)
KEYED = [("/api/v1/models/{name}/embed", "post", "/api/v1/models/bow-spanish/embed"),
         ("/v1/embeddings", "post", "/v1/embeddings"),
         ("/v1/models/{name}:predict", "post", "/v1/models/bow-spanish:predict")]


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in spec["paths"].items()
            for method, operation in item.items() if method != "parameters"]


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda match: EXAMPLES[match[1]], path)


def draft4(schema: Any) -> Any:
    """Swagger 2.0's schema dialect as JSON Schema draft 4: x-nullable
    becomes "or null", the only extension the document uses that matters."""
    if isinstance(schema, list):
        return [draft4(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: draft4(value) for key, value in schema.items()
                 if key not in ("x-nullable", "example")}
    if schema.get("x-nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture()
def spec(client) -> dict[str, Any]:
    return client.get(SPEC).get_json()


def validate(spec: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    responses = spec["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method} {path} answered an undocumented {status}"
    schema = responses[str(status)]["schema"]
    Draft4Validator({**draft4(schema), "definitions": draft4(spec["definitions"])}
                    ).validate(body)


def request_schema(spec: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    for parameter in spec["paths"][path][method].get("parameters", []):
        if parameter["in"] == "body":
            return parameter["schema"]
    return None


def test_every_route_is_in_the_spec_and_every_spec_path_is_served(app, spec):
    documented = {(concrete(path), method.upper()) for path, method, _ in operations(spec)}
    adapter = app.url_map.bind("localhost")
    for path, method in documented:
        endpoint, _ = adapter.match(path, method)
        assert endpoint not in UNDOCUMENTED, (method, path)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED:
            continue
        for method in rule.methods - IMPLICIT:
            served = [path for path, documented_method in documented
                      if documented_method == method
                      and adapter.match(path, method)[0] == rule.endpoint]
            assert served, f"{method} {rule.rule} ({rule.endpoint}) is not in the spec"


def test_every_operation_is_in_one_of_the_four_groups(spec):
    assert {tag["name"] for tag in spec["tags"]} == GROUPS
    for path, method, operation in operations(spec):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in GROUPS, (method, path)
        assert operation["responses"]["200"]["schema"], (method, path)
    assert spec["basePath"] == "/" and len(operations(spec)) == 19
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids))


def test_the_document_is_valid_swagger_2(spec):
    from openapi_spec_validator import validate
    validate(spec)


def test_real_answers_of_every_operation_match_the_spec(make_app):
    client = make_app(MODEL_NAMES="bow-spanish,lstm-multilingual").test_client()
    spec = client.get(SPEC).get_json()
    exercised = set()
    for path, method, url, body, status in CALLS:
        if status == 200 and body is not None:
            schema = request_schema(spec, path, method)
            Draft4Validator({**draft4(schema), "definitions": draft4(spec["definitions"])}
                            ).validate(body)
        response = client.open(url, method=method.upper(), json=body)
        assert response.status_code == status, (method, url, response.data[:200])
        answer = response.get_data(as_text=True) if path == "/metrics" else response.get_json()
        validate(spec, path, method, status, answer)
        exercised.add((path, method))
    for path, method, operation in operations(spec):
        if request_schema(spec, path, method) is None:
            continue
        content_type, data, status = NOT_JSON
        response = client.open(concrete(path), method=method.upper(), data=data,
                               content_type=content_type)
        assert response.status_code == status, (method, path)
        validate(spec, path, method, status, response.get_json())
    assert exercised == {(path, method) for path, method, _ in operations(spec)}


def test_keyed_errors_match_the_spec(make_app):
    client = make_app(MODEL_NAMES="bow-spanish", API_KEYS="k").test_client()
    spec = client.get(SPEC).get_json()
    for path, method, url in KEYED:
        response = client.open(url, method=method.upper(), json={})
        assert response.status_code == 401, url
        validate(spec, path, method, 401, response.get_json())
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert spec["paths"][path]["get"]["security"] == []
        assert client.get(path).status_code == 200
    assert {"apiKey": []} in spec["security"]
