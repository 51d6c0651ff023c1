"""OpenAI-compatible embeddings: `POST /v1/embeddings` (and `/embeddings`), `GET /v1/models`.

Clients of OpenAI's API (its SDKs, LangChain, LlamaIndex) work unchanged with
`base_url` pointed here and an API key as their key. Vectors are unit length,
as OpenAI's are; `dimensions` keeps the first n values and normalizes again.
Texts are checked as in every API here (`requests`), `truncate` included, an
extension OpenAI's clients may send as an extra body field. Errors use
OpenAI's nested shape.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException

from ..serving.errors import (
    InferenceFailed, InvalidParameter, ModelNotAvailable, ModelNotFound, QueueFull,
    RequestTimedOut, ServingError)
from ..serving.servable import l2_normalize
from .access import install_auth
from .common import json_body, json_response, limits, registry, timing
from .encoding import base64_rows
from .errors import http_headers, serving_error
from .keys import KeyRing
from .requests import (
    TRUNCATE, Choice, Context, Field, Form, InvalidRequest, PositiveInt, String,
    check_texts, truncate_flag)

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


def error_response(status: int, message: str, error_type: str = "invalid_request_error",
                   param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return json_response(body, status, headers)


def _token_ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, int) and not isinstance(item, bool) for item in value)


class Input(Field):
    """OpenAI's `input`: a string, strings, token ids, or lists of token ids.

    Texts get the same checks as every API's; token ids are the model's
    own vocabulary ids, fed as they are. Parsed as (texts, ids), one empty.
    """

    def __init__(self) -> None:
        super().__init__({"description": "a string, an array of strings, an array of "
                          "token ids or an array of arrays of token ids"})

    def parse(self, value: Any, name: str,
              context: Context) -> tuple[list[str], list[list[int]]]:
        if isinstance(value, str):
            value = [value]
        if _token_ids(value):
            value = [value]
        if isinstance(value, list) and value and all(_token_ids(item) for item in value):
            limit = context.limits.max_texts
            if len(value) > limit:
                raise InvalidRequest(f"'{name}' has {len(value)} items; at most {limit} "
                                     "are accepted per request (MAX_BATCH_TEXTS)", 413, name)
            return [], value
        if isinstance(value, list) and any(isinstance(item, list) for item in value):
            raise InvalidRequest(f"'{name}' must be all strings or all arrays of token "
                                 "ids", field=name)
        return check_texts(value, name, context), []


EMBEDDINGS = Form({
    "input": Input(),
    "model": String("the name of a served model", non_empty=True),
    "encoding_format": Choice(("float", "base64"), nullable=True),
    "dimensions": PositiveInt("keep the first n values, normalized again"),
    "user": String(),
    TRUNCATE: truncate_flag(),
}, required=("input", "model"))


def _embeddings() -> Response:
    body = EMBEDDINGS.parse(json_body(), limits())
    model, dimensions = body["model"], body["dimensions"]
    texts, ids = body["input"]
    with registry().use(model) as servable:
        size = servable.embedding_dim
        if dimensions is not None and dimensions > size:
            raise InvalidRequest(f"'dimensions' is {dimensions}; model {model!r} has {size}",
                                 field="dimensions")
        result = servable.embed(texts) if texts else servable.embed_ids(ids)
    vectors = result.vectors[:, :dimensions] if dimensions else result.vectors
    vectors = l2_normalize(np.asarray(vectors, dtype=np.float32))
    embeddings = base64_rows(vectors) if body["encoding_format"] == "base64" else vectors
    tokens = int(sum(result.words))
    payload = {"object": "list",
               "data": [{"object": "embedding", "index": i, "embedding": embedding}
                        for i, embedding in enumerate(embeddings)],
               "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    timing(model, result)
    return json_response(payload)


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
        return json_response({"object": "list", "data": data})

    @blueprint.errorhandler(InvalidRequest)
    def invalid(error: InvalidRequest) -> Response:
        # OpenAI answers every invalid request 400; too much is still 413.
        status = 400 if error.status == 422 else error.status
        return error_response(status, error.message, param=error.field)

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
