"""More of the native API: similarity and tokenize."""
from __future__ import annotations

from typing import Any

from flask_restx import Resource

from ...observability.request_log import note_model
from ...serving.servable import cosine_similarities
from ..common import json_body, limits, registry, timing
from ..requests import SIMILARITY, TOKENIZE
from .namespace import ns, reads_body, schema


class Similarity(Resource):
    @ns.expect(schema["similarity_request"])
    @ns.response(200, "Cosine similarity per target, in order", schema["similarity_response"])
    @reads_body("Too large a body, too many targets or too long a text",
                "Empty source, target list or target")
    def post(self, name: str) -> dict[str, Any]:
        """Cosine similarity of a source text with each target (one model run)."""
        with registry().use(name) as servable:
            body = SIMILARITY.parse(json_body(), limits())
            result = servable.embed([body["source"], *body["targets"]], body["length"])
        similarities = cosine_similarities(result.vectors[0], result.vectors[1:])
        timing(name, result)
        return {"model": name, "model_version": result.version, "similarities": similarities}


class Tokenize(Resource):
    @ns.expect(schema["tokenize_request"])
    @ns.response(200, "Each text as the model sees it", schema["tokenize_response"])
    @reads_body("Too large a body, too many texts or too long a text",
                "Empty list or empty text", "The model is not AVAILABLE")
    def post(self, name: str) -> dict[str, Any]:
        """Words, out-of-vocabulary flags, tokens, ids and truncation, without a model run."""
        with registry().use(name) as servable:
            body = TOKENIZE.parse(json_body(), limits())
            explained = servable.explain(body["texts"], body["length"])
            version, max_length = servable.version, servable.length_for(body["length"])
        note_model(name, version, 0)
        return {"model": name, "model_version": version, "max_length": max_length,
                "texts": [text.as_dict() for text in explained]}
