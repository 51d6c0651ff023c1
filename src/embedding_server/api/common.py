"""What every API (native, OpenAI, TF Serving, ops) shares: the request's
body, limits and model, and the one way a JSON response is built."""
from __future__ import annotations

from typing import Any, Mapping

import orjson
from flask import Response, current_app, request
from werkzeug.exceptions import BadRequest

from ..observability.request_log import add_headers, note_model
from ..serving.registry import Registry
from ..serving.servable import Embeddings
from .encoding import body_bytes, decompressed
from .requests import Limits

#: numpy arrays are written by orjson directly, without a Python list:
#: `json.dumps` over `ndarray.tolist()` was the largest single cost of a
#: small embedding request.
OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_response(body: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response, built directly: flask-restx passes a ready Response
    through instead of re-dispatching on its representations."""
    response = Response(orjson.dumps(body, option=OPTIONS), status=status,
                        mimetype="application/json")
    if headers:
        response.headers.extend(headers)
    return response


def output_json(data: Any, code: int, headers: Mapping[str, str] | None = None) -> Response:
    """flask-restx representation for application/json."""
    return json_response(data, code, headers)


def registry() -> Registry:
    return current_app.extensions["registry"]


def limits() -> Limits:
    config = current_app.config
    return Limits(config["MAX_BATCH_TEXTS"], config["MAX_TEXT_CHARS"])


def json_body() -> Any:
    """The body parsed as JSON whatever its Content-Type (curl users often
    omit it); reading it past MAX_CONTENT_LENGTH raises 413, also once
    decompressed when it came gzip-compressed."""
    # One context lookup, not one per use.
    current = request._get_current_object()  # type: ignore[attr-defined]
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    data = body_bytes(current.environ, limit)
    if data is None:  # no framing the server told of: Werkzeug's stream
        data = current.get_data(cache=False)
    encoding = current.environ.get("HTTP_CONTENT_ENCODING")
    if encoding:
        data = decompressed(data, encoding, limit)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the request body is not valid JSON ({error})") from None


def timing(name: str, result: Embeddings) -> None:
    """Notes what served the request (for the access log) and where its time
    went, in ms, as text-embeddings-inference reports it (response headers)."""
    note_model(name, result.version, result.batch_size)
    add_headers(("X-Queue-Time", f"{result.queued_s * 1000:.3f}"),
                ("X-Inference-Time", f"{result.inference_s * 1000:.3f}"))
