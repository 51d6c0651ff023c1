"""More of the native API on the `models` namespace: similarity and tokenize."""
from __future__ import annotations

from flask import current_app
from flask_restx import Resource

from ..observability.request_log import note_model
from ..serving.servable import cosine_similarities
from .models import json_body, model_route, ns, reads_body, registry, schema, timing
from .payloads import parse_similarity, parse_tokenize


@model_route("/similarity")
class Similarity(Resource):
    @ns.expect(schema["similarity_request"])
    @ns.response(200, "Cosine similarity per target, in order", schema["similarity_response"])
    @reads_body("Too large a body, too many targets or too long a text",
                "Empty source, target list or target")
    def post(self, name: str):
        """Cosine similarity of a source text with each target (one model run)."""
        with registry().use(name) as servable:
            body = parse_similarity(json_body(), current_app.config["MAX_BATCH_TEXTS"],
                                    current_app.config["MAX_TEXT_CHARS"])
            result = servable.embed([body.source, *body.targets], body.length)
        similarities = cosine_similarities(result.vectors[0], result.vectors[1:])
        timing(name, result)
        return {"model": name, "model_version": result.version, "similarities": similarities}


@model_route("/tokenize")
class Tokenize(Resource):
    @ns.expect(schema["tokenize_request"])
    @ns.response(200, "Each text as the model sees it", schema["tokenize_response"])
    @reads_body("Too large a body, too many texts or too long a text",
                "Empty list or empty text", "The model is not AVAILABLE")
    def post(self, name: str):
        """Words, out-of-vocabulary flags, tokens, ids and truncation, without a model run."""
        with registry().use(name) as servable:
            body = parse_tokenize(json_body(), current_app.config["MAX_BATCH_TEXTS"],
                                  current_app.config["MAX_TEXT_CHARS"])
            explained = servable.explain(body.texts, body.length)
            version, max_length = servable.version, servable.length_for(body.length)
        note_model(name, version, 0)
        return {"model": name, "model_version": version, "max_length": max_length,
                "texts": [text.as_dict() for text in explained]}
