"""The `models` resources: status, the seed's /predict, batch /embed, reload."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask_restx import Resource

from ...serving.servable import Embeddings
from ...serving.watcher import Watcher
from ..common import json_body, json_response, limits, registry, timing
from ..encoding import base64_rows
from ..requests import EMBED, PREDICT
from .namespace import ns, reads_body, schema

#: The model's optional run parameters /predict takes (keep-probabilities).
PARAMETERS = ("title_dropout", "dense_dropout")


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
    timing(name, result)
    return json_response(body)


class ModelList(Resource):
    @ns.response(200, "Every configured model", schema["status_list"])
    def get(self) -> dict[str, Any]:
        """Every configured model with its state."""
        return {"models": [entry.status() for entry in registry().entries()]}


class ModelStatus(Resource):
    @ns.response(200, "The model's status", schema["status"])
    @ns.response(404, "No such model is configured", schema["error"])
    def get(self, name: str) -> dict[str, Any]:
        """One model's state, error and shape."""
        return registry().entry(name).status()


class Predict(Resource):
    @ns.expect(schema["predict_request"])
    @ns.response(200, "The title's embedding", schema["predict_response"])
    @reads_body("Body larger than MAX_CONTENT_LENGTH, or a title over MAX_TEXT_CHARS",
                "Empty title")
    def post(self, name: str) -> Response:
        """Embed one title (the seed's endpoint and response shape, plus the version)."""
        with registry().use(name) as servable:
            body = PREDICT.parse(json_body(), limits())
            parameters = {key: body[key] for key in PARAMETERS if body[key] is not None}
            result = servable.embed([body["title"]], body["length"], parameters)
        return embedding_response(predict_body(name, result), name, result)


class Embed(Resource):
    @ns.expect(schema["embed_request"])
    @ns.response(200, "One embedding per text, in input order", schema["embed_response"])
    @reads_body("Body larger than MAX_CONTENT_LENGTH, more than MAX_BATCH_TEXTS texts, "
                "or a text over MAX_TEXT_CHARS", "Empty list or empty text")
    def post(self, name: str) -> Response:
        """Embed a batch of texts in one model run."""
        with registry().use(name) as servable:
            body = EMBED.parse(json_body(), limits())
            result = servable.embed(body["texts"], body["length"],
                                    normalize=body["normalize"])
        return embedding_response(embed_body(name, result, body["encoding_format"]), name,
                                  result)


class Reload(Resource):
    @ns.response(200, "The model's status after looking for new versions", schema["status"])
    @ns.response(404, "No such model is configured", schema["error"])
    def post(self, name: str) -> dict[str, Any]:
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
