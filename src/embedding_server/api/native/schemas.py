"""Swagger models of the native API's bodies.

Request bodies are the JSON Schema of the very forms that check them
(`api.requests`), so the spec cannot drift from what is enforced; response
bodies are described here (the server writes them, nothing to enforce).
"""
from __future__ import annotations

from flask_restx import Namespace, fields

from ...serving.registry import MODEL_STATES, ModelState
from ..requests import EMBED, PREDICT, SIMILARITY, TOKENIZE


def _nullable(field_class: type) -> type:
    """A field whose value may be null (Swagger 2.0 says it with x-nullable)."""
    class Nullable(field_class):
        def schema(self):
            return {**super().schema(), "x-nullable": True}

    Nullable.__name__ = f"Nullable{field_class.__name__}"
    return Nullable


NullableString = _nullable(fields.String)
NullableInteger = _nullable(fields.Integer)
NullableFloat = _nullable(fields.Float)


class FloatsOrBase64(fields.Raw):
    """An embedding: a list of floats, or a base64 string (no single Swagger 2.0 type)."""
    __schema_type__ = None


def register_models(ns: Namespace) -> dict[str, object]:
    error = ns.model("Error", {
        "message": fields.String(required=True, description="what went wrong"),
    })
    version = ns.model("VersionStatus", {
        "version": fields.Integer(required=True),
        "state": fields.String(required=True, enum=[state.value for state in ModelState]),
        "error": NullableString(description="why it FAILED or is PENDING, or a note"),
    })
    status = ns.model("ModelStatus", {
        "name": fields.String(required=True),
        "state": fields.String(required=True, enum=[state.value for state in MODEL_STATES]),
        "error": NullableString(description="why the model FAILED; null otherwise"),
        "version": NullableInteger(description="the version serving; null if none"),
        "versions": fields.List(fields.Nested(version), description="every version "
                                "on disk (and the one serving), newest first"),
        "format": NullableString(description="backend format, e.g. tf1 (null until loaded)"),
        "checkpoint_format": NullableString(description="V1 or V2"),
        "embedding_dim": NullableInteger,
        "max_length": NullableInteger(description="most token ids fed per text"),
        "vocabulary_size": NullableInteger,
        "oov_token": NullableString(description="token unknown words map to; "
                                    "null: they are dropped"),
        "parameters": fields.List(fields.String, description="optional request "
                                  "parameters the model takes"),
        "load_seconds": NullableFloat(description="seconds the serving version took "
                                      "to load and warm up"),
    })
    status_list = ns.model("ModelList", {"models": fields.List(fields.Nested(status))})
    prediction = ns.model("ModelPrediction", {
        "tokenizedTitle": fields.List(fields.String, description=(
            "tokens after out-of-vocabulary replacement, before truncation")),
        "modelName": fields.String,
        "modelPrediction": fields.List(fields.Float),
    })
    predict_response = ns.model("PredictResponse", {
        "ModelPrediction": fields.Nested(prediction),
        "model_version": fields.Integer(description="the version that computed it")})
    embed_response = ns.model("EmbedResponse", {
        "model": fields.String,
        "model_version": fields.Integer(description="the version that computed them"),
        "dimension": fields.Integer,
        "embeddings": fields.List(FloatsOrBase64, description="lists of floats, or "
                                  "base64 strings with encoding_format=base64"),
        "tokens": fields.List(fields.List(fields.String)),
    })
    similarity_response = ns.model("SimilarityResponse", {
        "model": fields.String,
        "model_version": fields.Integer,
        "similarities": fields.List(fields.Float, description="cosine similarity of "
                                    "each target with the source, in order, in [-1, 1]"),
    })
    explained = ns.model("TokenizedText", {
        "words": fields.List(fields.String, description="the tokenizer's words"),
        "oov": fields.List(fields.Boolean, description="per word: not in the vocabulary"),
        "tokens": fields.List(fields.String, description="after out-of-vocabulary "
                              "replacement (or dropping)"),
        "ids": fields.List(fields.Integer, description="the tokens' ids"),
        "truncated": fields.Boolean(description="more ids than the model takes; "
                                    "it is fed the kept part"),
    })
    tokenize_response = ns.model("TokenizeResponse", {
        "model": fields.String,
        "model_version": fields.Integer,
        "max_length": fields.Integer(description="most ids fed per text"),
        "texts": fields.List(fields.Nested(explained)),
    })
    predict_request = ns.schema_model("PredictRequest", PREDICT.schema())
    embed_request = ns.schema_model("EmbedRequest", EMBED.schema())
    similarity_request = ns.schema_model("SimilarityRequest", SIMILARITY.schema())
    tokenize_request = ns.schema_model("TokenizeRequest", TOKENIZE.schema())
    return {"error": error, "status": status, "status_list": status_list,
            "predict_request": predict_request, "predict_response": predict_response,
            "embed_request": embed_request, "embed_response": embed_response,
            "similarity_request": similarity_request,
            "similarity_response": similarity_response,
            "tokenize_request": tokenize_request, "tokenize_response": tokenize_response}
