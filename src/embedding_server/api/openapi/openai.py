"""The OpenAI-compatible group: /v1/embeddings (and /embeddings), /v1/models."""
from __future__ import annotations

from typing import Any

from ..openai import EMBEDDINGS
from .shapes import (
    BAD_BODY, BUSY, NO_KEY, NOT_JSON, TOO_LARGE, UNAVAILABLE, array, body, nullable, obj,
    ref, responses, typed)

ERROR = ref("OpenAIError")

DEFINITIONS: dict[str, Any] = {
    "OpenAIEmbeddingsRequest": EMBEDDINGS.schema(),
    "OpenAIEmbedding": obj({
        "object": typed("string", enum=["embedding"]),
        "index": typed("integer", "the input's position"),
        # No single Swagger 2.0 type: floats, or a base64 string.
        "embedding": {"description": "unit-length floats, or with encoding_format=base64 "
                                     "the little-endian float32 bytes in base64"},
    }, ("object", "index", "embedding")),
    "OpenAIEmbeddings": obj({
        "object": typed("string", enum=["list"]),
        "data": array(ref("OpenAIEmbedding"), "one per input, in input order"),
        "model": typed("string"),
        "usage": obj({"prompt_tokens": typed("integer", "words the tokenizer found"),
                      "total_tokens": typed("integer")}, ("prompt_tokens", "total_tokens")),
    }, ("object", "data", "model", "usage")),
    "OpenAIModel": obj({
        "id": typed("string", "the model's name"),
        "object": typed("string", enum=["model"]),
        "created": typed("integer"),
        "owned_by": typed("string"),
    }, ("id", "object", "created", "owned_by")),
    "OpenAIModelList": obj({"object": typed("string", enum=["list"]),
                            "data": array(ref("OpenAIModel"), "the AVAILABLE models")},
                           ("object", "data")),
    "OpenAIError": obj({"error": obj({
        "message": typed("string"),
        "type": typed("string", "invalid_request_error, requests or server_error"),
        "param": nullable(typed("string", "the request field at fault")),
        "code": nullable(typed("string", "e.g. model_not_found, rate_limit_exceeded")),
    }, ("message", "type"))}, ("error",)),
}

_EMBEDDINGS = {
    "summary": "Create embeddings, as OpenAI's API does",
    "description": "Vectors are unit length, as OpenAI's are; `dimensions` keeps the "
                   "first n values and normalizes again. `input` may also be token ids "
                   "of the model's own vocabulary.",
    "parameters": body(ref("OpenAIEmbeddingsRequest")),
    "responses": responses(
        ERROR, ("One embedding per input", ref("OpenAIEmbeddings")),
        _400=BAD_BODY, _401=NO_KEY, _404="No such model is configured",
        _413=TOO_LARGE, _415=NOT_JSON, _429=BUSY, _503=UNAVAILABLE),
}

PATHS: dict[str, Any] = {
    "/v1/embeddings": {"post": {**_EMBEDDINGS, "operationId": "openai_embeddings"}},
    "/embeddings": {"post": {**_EMBEDDINGS, "operationId": "openai_embeddings_root",
                             "summary": "Create embeddings (OpenAI's path without /v1)"}},
    "/v1/models": {"get": {
        "summary": "List the AVAILABLE models, in OpenAI's shape",
        "operationId": "openai_models",
        "responses": responses(ERROR, ("The models", ref("OpenAIModelList")),
                               _401=NO_KEY, _429=BUSY),
    }},
}
