"""The `models` namespace: status, the seed's /predict, and batch /embed."""
from __future__ import annotations

from typing import Any, Callable

import orjson

from flask import Response, current_app, request
from flask_restx import Namespace, Resource
from werkzeug.exceptions import BadRequest

from ..observability.request_log import add_headers, note_model
from ..serving.registry import Registry
from ..serving.servable import Embeddings
from ..serving.watcher import Watcher
from .encoding import OPTIONS, base64_rows, body_bytes, decompressed
from .payloads import parse_embed, parse_predict
from .schemas import register_models

ns = Namespace("models", description="Served models: status and embeddings")
schema = register_models(ns)

#: What any resource of the namespace may answer besides its own statuses.
guarded = ns.doc(responses={
    401: ("Missing or wrong API key (when API keys are configured)", schema["error"]),
    429: ("The client's rate limit is spent (or, for embeddings, the model's queue "
          "is full); see Retry-After", schema["error"]),
})


def model_route(suffix: str = "") -> Callable[[type], type]:
    """Registers a resource at /models/<name><suffix>, with its `name`
    parameter and the statuses every guarded resource may answer."""
    def register(resource: type) -> type:
        documented = ns.param("name", "model name, as in MODEL_NAMES")(guarded(resource))
        return ns.route(f"/<string:name>{suffix}")(documented)
    return register


def reads_body(too_large: str, empty: str, unavailable: str = "The model is not "
               "AVAILABLE, or its run failed"):
    """The statuses every endpoint that reads a JSON body may answer, besides 200."""
    error = schema["error"]
    return ns.doc(responses={
        400: ("Malformed body, wrong type, unknown field or value out of range", error),
        404: ("No such model is configured", error),
        413: (too_large, error),
        415: ("A Content-Encoding other than gzip", error),
        422: (empty, error),
        503: (unavailable, error),
    })


def registry() -> Registry:
    return current_app.extensions["registry"]


def json_body() -> Any:
    """The body parsed as JSON whatever its Content-Type (curl users often
    omit it); reading it past MAX_CONTENT_LENGTH raises 413, also once
    decompressed when it came gzip-compressed."""
    current = request._get_current_object()  # one context lookup, not one per use
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


def predict_body(name: str, result: Embeddings) -> dict[str, Any]:
    """/predict's answer: the seed's shape, plus the version."""
    return {"ModelPrediction": {"tokenizedTitle": result.tokens[0], "modelName": name,
                                "modelPrediction": result.vectors[0]},
            "model_version": result.version}


def embed_body(name: str, result: Embeddings, encoding_format: str) -> dict[str, Any]:
    """/embed's answer, the vectors as floats or as base64 rows."""
    vectors = result.vectors
    return {"model": name, "model_version": result.version,
            "dimension": int(vectors.shape[1]),
            "embeddings": base64_rows(vectors) if encoding_format == "base64" else vectors,
            "tokens": result.tokens}


def embedding_response(body: dict[str, Any], name: str, result: Embeddings) -> Response:
    """The JSON response of an embedding endpoint, built directly: flask-restx
    passes a ready Response through instead of re-dispatching on its
    representations and extending the headers one by one."""
    timing(name, result)
    return Response(orjson.dumps(body, option=OPTIONS), status=200, mimetype="application/json")


@ns.route("")
@guarded
class ModelList(Resource):
    @ns.response(200, "Every configured model", schema["status_list"])
    def get(self):
        """Every configured model with its state."""
        return {"models": [entry.status() for entry in registry().entries()]}


@model_route()
class ModelStatus(Resource):
    @ns.response(200, "The model's status", schema["status"])
    @ns.response(404, "No such model is configured", schema["error"])
    def get(self, name: str):
        """One model's state, error and shape."""
        return registry().entry(name).status()


@model_route("/predict")
class Predict(Resource):
    @ns.expect(schema["predict_request"])
    @ns.response(200, "The title's embedding", schema["predict_response"])
    @reads_body("Body larger than MAX_CONTENT_LENGTH, or a title over MAX_TEXT_CHARS",
                "Empty title")
    def post(self, name: str):
        """Embed one title (the seed's endpoint and response shape, plus the version)."""
        app = current_app._get_current_object()  # one context lookup, not one per use
        with app.extensions["registry"].use(name) as servable:
            body = parse_predict(json_body(), app.config["MAX_TEXT_CHARS"])
            result = servable.embed([body.title], body.length, body.parameters)
        return embedding_response(predict_body(name, result), name, result)


@model_route("/embed")
class Embed(Resource):
    @ns.expect(schema["embed_request"])
    @ns.response(200, "One embedding per text, in input order", schema["embed_response"])
    @reads_body("Body larger than MAX_CONTENT_LENGTH, more than MAX_BATCH_TEXTS texts, "
                "or a text over MAX_TEXT_CHARS", "Empty list or empty text")
    def post(self, name: str):
        """Embed a batch of texts in one model run."""
        app = current_app._get_current_object()
        with app.extensions["registry"].use(name) as servable:
            body = parse_embed(json_body(), app.config["MAX_BATCH_TEXTS"],
                               app.config["MAX_TEXT_CHARS"])
            result = servable.embed(body.texts, body.length, normalize=body.normalize)
        return embedding_response(embed_body(name, result, body.encoding_format), name,
                                  result)


@model_route("/reload")
class Reload(Resource):
    @ns.response(200, "The model's status after looking for new versions", schema["status"])
    @ns.response(404, "No such model is configured", schema["error"])
    def post(self, name: str):
        """Look for new versions of the model now and serve the newest that loads.

        The worker that answers loads synchronously (a version whose files
        still change is left PENDING); under `serve` every other worker is
        told to look too.
        """
        entry = registry().entry(name)
        registry().refresh(entry, wait=True)
        watcher: Watcher = current_app.extensions["watcher"]
        watcher.notify_siblings()
        return entry.status()
