"""OpenAI-compatible embeddings: `POST /v1/embeddings` (and `/embeddings`), `GET /v1/models`.

Clients of OpenAI's API (its SDKs, LangChain, LlamaIndex) work unchanged with
`base_url` pointed here and an API key as their key. Vectors are unit length,
as OpenAI's are; `dimensions` keeps the first n values and normalizes again.
Errors use OpenAI's nested shape.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from flask import Blueprint, Response, current_app
from werkzeug.exceptions import HTTPException

from ..serving.errors import (
    InferenceFailed, InvalidParameter, ModelNotAvailable, ModelNotFound, QueueFull,
    RequestTimedOut, ServingError)
from ..serving.servable import l2_normalize
from ..auth import KeyRing
from .access import install_auth
from .encoding import base64_rows
from .errors import http_headers, serving_error
from .models import json_body, registry, timing

#: OpenAI's error type and code for each serving error (the status is ours).
_SERVING = {
    ModelNotFound: ("invalid_request_error", "model_not_found"),
    InvalidParameter: ("invalid_request_error", None),
    QueueFull: ("requests", "rate_limit_exceeded"),
    RequestTimedOut: ("server_error", "timeout"),
    ModelNotAvailable: ("server_error", "model_not_available"),
    InferenceFailed: ("server_error", None),
}
_HTTP_TYPES = {401: ("invalid_request_error", "invalid_api_key"),
               429: ("requests", "rate_limit_exceeded")}


class OpenAIError(Exception):
    """A request fault, named after the parameter it concerns."""

    def __init__(self, message: str, param: str | None = None, status: int = 400):
        super().__init__(message)
        self.param, self.status = param, status


def error_response(status: int, message: str, error_type: str = "invalid_request_error",
                   param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return Response(orjson.dumps(body), status=status, mimetype="application/json",
                    headers=headers or {})


def _inputs(value: Any, max_texts: int, max_chars: int) -> tuple[list[str], list[list[int]]]:
    """OpenAI's `input`: a string, strings, token ids, or lists of token ids."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise OpenAIError("'input' must be a non-empty string, array of strings, array "
                          "of token ids or array of arrays of token ids", "input")
    if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        value = [value]
    if len(value) > max_texts:
        raise OpenAIError(f"'input' has {len(value)} items; at most {max_texts} are "
                          "accepted (MAX_BATCH_TEXTS)", "input", 413)
    if all(isinstance(item, str) for item in value):
        for i, text in enumerate(value):
            if not text.strip():
                raise OpenAIError(f"'input[{i}]' is empty", "input")
            if len(text) > max_chars:
                raise OpenAIError(f"'input[{i}]' has {len(text)} characters; at most "
                                  f"{max_chars} are accepted (MAX_TEXT_CHARS)", "input", 413)
        return value, []
    if all(isinstance(item, list) and item and all(
            isinstance(t, int) and not isinstance(t, bool) for t in item) for item in value):
        return [], value
    raise OpenAIError("'input' must be all strings or all arrays of token ids", "input")


def _embeddings() -> Response:
    body = json_body()
    if not isinstance(body, dict):
        raise OpenAIError("the request body must be a JSON object")
    unknown = sorted(set(body) - {"input", "model", "encoding_format", "dimensions", "user"})
    if unknown:
        raise OpenAIError(f"unknown parameter(s): {', '.join(unknown)}", unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise OpenAIError("'model' is required: the name of a served model", "model")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise OpenAIError("'encoding_format' must be 'float' or 'base64'", "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not isinstance(dimensions, int)
                                   or isinstance(dimensions, bool) or dimensions < 1):
        raise OpenAIError("'dimensions' must be a positive integer", "dimensions")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise OpenAIError("'user' must be a string", "user")
    config = current_app.config
    with registry().use(model) as servable:
        texts, ids = _inputs(body.get("input"), config["MAX_BATCH_TEXTS"],
                             config["MAX_TEXT_CHARS"])
        size = servable.embedding_dim
        if dimensions is not None and dimensions > size:
            raise OpenAIError(f"'dimensions' is {dimensions}; model {model!r} has {size}",
                              "dimensions")
        result = servable.embed(texts) if texts else servable.embed_ids(ids)
    vectors = result.vectors[:, :dimensions] if dimensions else result.vectors
    vectors = l2_normalize(np.asarray(vectors, dtype=np.float32))
    embeddings = base64_rows(vectors) if encoding == "base64" else vectors
    tokens = int(sum(result.words))
    payload = {"object": "list",
               "data": [{"object": "embedding", "index": i, "embedding": embedding}
                        for i, embedding in enumerate(embeddings)],
               "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    timing(model, result)
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
                    mimetype="application/json")


def create_openai_blueprint(keyring: KeyRing | None = None) -> Blueprint:
    blueprint = Blueprint("openai", __name__)
    install_auth(blueprint, keyring or KeyRing(), lambda message: error_response(
        401, message, "invalid_request_error", None, "invalid_api_key"))
    blueprint.add_url_rule("/v1/embeddings", "embeddings", _embeddings, methods=["POST"])
    blueprint.add_url_rule("/embeddings", "embeddings_root", _embeddings, methods=["POST"])

    @blueprint.get("/v1/models")
    def models() -> Response:
        """The AVAILABLE models, in OpenAI's list shape."""
        data = [{"id": entry.name, "object": "model", "created": 0,
                 "owned_by": "embedding-server"}
                for entry in registry().entries() if entry.servable is not None]
        return Response(orjson.dumps({"object": "list", "data": data}),
                        mimetype="application/json")

    @blueprint.errorhandler(OpenAIError)
    def openai_error(error: OpenAIError) -> Response:
        return error_response(error.status, str(error), param=error.param)

    @blueprint.errorhandler(ServingError)
    def serving(error: ServingError) -> Response:
        message, status, headers = serving_error(error)
        error_type, code = _SERVING[type(error)]
        param = "model" if isinstance(error, ModelNotFound) else None
        return error_response(status, message, error_type, param, code, headers)

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        error_type, code = _HTTP_TYPES.get(error.code or 500, ("invalid_request_error", None))
        return error_response(error.code or 500, error.description or error.name,
                              error_type, None, code, http_headers(error))

    return blueprint
