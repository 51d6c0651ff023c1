"""What every API (native, OpenAI, TF Serving, ops) shares: the request's
body, limits and model, and the one way a JSON response is built."""
from __future__ import annotations

from typing import Any, Mapping

import orjson
from flask import Response, current_app, request
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

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
    through instead of re-dispatching on its representations. Also restx's
    representation for application/json (the same signature)."""
    response = Response(orjson.dumps(body, option=OPTIONS), status=status,
                        mimetype="application/json")
    if headers:
        response.headers.extend(headers)
    return response


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
        raise not_json(current.mimetype, error) from None


#: Content types that can never hold JSON. Others (form-encoded above all:
#: curl's `-d` sends it by default) are parsed as JSON all the same.
_NEVER_JSON = ("multipart/", "application/xml", "text/xml", "text/html")


def not_json(mimetype: str, error: Exception) -> HTTPException:
    """415 for a body of a type that cannot be JSON, else 400; both say a
    JSON body is what the endpoint takes."""
    if mimetype.startswith(_NEVER_JSON) or mimetype.endswith("+xml"):
        return UnsupportedMediaType(f"a JSON body is expected, not {mimetype}; send "
                                    "Content-Type: application/json")
    return BadRequest(f"a JSON body is expected; the body is not valid JSON ({error})")


def timing(name: str, result: Embeddings) -> None:
    """Notes what served the request (for the access log) and where its time
    went, in ms, as text-embeddings-inference reports it (response headers)."""
    note_model(name, result.version, result.batch_size, result)
    add_headers(("X-Queue-Time", f"{result.queued_s * 1000:.3f}"),
                ("X-Inference-Time", f"{result.inference_s * 1000:.3f}"))
