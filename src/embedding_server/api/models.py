"""The `models` namespace: status, the seed's /predict, and batch /embed."""
from __future__ import annotations

from typing import Any

import orjson

from flask import current_app, request
from flask_restx import Namespace, Resource
from werkzeug.exceptions import BadRequest

from ..serving.registry import Registry
from ..serving.servable import Embeddings
from .encoding import base64_rows
from .payloads import parse_embed, parse_predict
from .schemas import register_models

ns = Namespace("models", description="Served models: status and embeddings")
schema = register_models(ns)


def registry() -> Registry:
    return current_app.extensions["registry"]


def json_body() -> Any:
    """The body parsed as JSON whatever its Content-Type (curl users often
    omit it); reading it past MAX_CONTENT_LENGTH raises 413."""
    try:
        return orjson.loads(request.get_data(cache=False))
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the request body is not valid JSON ({error})") from None


def timing(result: Embeddings) -> dict[str, str]:
    """Where the request's time went, in ms, as text-embeddings-inference reports it."""
    return {"X-Queue-Time": f"{result.queued_s * 1000:.3f}",
            "X-Inference-Time": f"{result.inference_s * 1000:.3f}"}


@ns.route("")
class ModelList(Resource):
    @ns.response(200, "Every configured model", schema["status_list"])
    def get(self):
        """Every configured model with its state."""
        return {"models": [entry.status() for entry in registry().entries()]}


@ns.route("/<string:name>")
@ns.param("name", "model name, as in MODEL_NAMES")
class ModelStatus(Resource):
    @ns.response(200, "The model's status", schema["status"])
    @ns.response(404, "No such model is configured", schema["error"])
    def get(self, name: str):
        """One model's state, error and shape."""
        return registry().entry(name).status()


@ns.route("/<string:name>/predict")
@ns.param("name", "model name, as in MODEL_NAMES")
class Predict(Resource):
    @ns.expect(schema["predict_request"])
    @ns.response(200, "The title's embedding", schema["predict_response"])
    @ns.response(400, "Malformed body, wrong type, unknown field or value out "
                 "of range", schema["error"])
    @ns.response(404, "No such model is configured", schema["error"])
    @ns.response(413, "Body larger than MAX_CONTENT_LENGTH", schema["error"])
    @ns.response(422, "Empty title", schema["error"])
    @ns.response(503, "The model is not AVAILABLE", schema["error"])
    def post(self, name: str):
        """Embed one title (the seed's endpoint and response shape)."""
        servable = registry().get(name)
        body = parse_predict(json_body())
        result = servable.embed([body.title], body.length, body.parameters)
        return {"ModelPrediction": {"tokenizedTitle": result.tokens[0],
                                    "modelName": name,
                                    "modelPrediction": result.vectors[0]}}, 200, timing(result)


@ns.route("/<string:name>/embed")
@ns.param("name", "model name, as in MODEL_NAMES")
class Embed(Resource):
    @ns.expect(schema["embed_request"])
    @ns.response(200, "One embedding per text, in input order", schema["embed_response"])
    @ns.response(400, "Malformed body, wrong type, unknown field or value out "
                 "of range", schema["error"])
    @ns.response(404, "No such model is configured", schema["error"])
    @ns.response(413, "Body larger than MAX_CONTENT_LENGTH, or more than "
                 "MAX_BATCH_TEXTS texts", schema["error"])
    @ns.response(422, "Empty list or empty text", schema["error"])
    @ns.response(503, "The model is not AVAILABLE", schema["error"])
    def post(self, name: str):
        """Embed a batch of texts in one model run."""
        servable = registry().get(name)
        body = parse_embed(json_body(), current_app.config["MAX_BATCH_TEXTS"])
        result = servable.embed(body.texts, body.length, normalize=body.normalize)
        embeddings = (base64_rows(result.vectors) if body.encoding_format == "base64"
                      else result.vectors)
        return {"model": name, "dimension": int(result.vectors.shape[1]),
                "embeddings": embeddings, "tokens": result.tokens}, 200, timing(result)
