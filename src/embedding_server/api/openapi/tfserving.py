"""The TF Serving-compatible group: status, metadata and :predict, with or
without a version, as TensorFlow Serving's REST API names them."""
from __future__ import annotations

from typing import Any

from ..tfserving import PREDICT
from .shapes import (
    BAD_BODY, BUSY, NO_KEY, NOT_JSON, TOO_LARGE, UNAVAILABLE, array, body, obj,
    path_parameter, ref, responses, typed)

ERROR = ref("TFServingError")
NAME = path_parameter("name", "string", "model name, as in MODEL_NAMES")
VERSION = path_parameter("version", "integer", "a version number of the model", minimum=0)
NOT_SERVED = "No such model, or the version asked for is not the one serving"

_VECTORS = array(array(typed("number")), "one embedding per text, in input order")

DEFINITIONS: dict[str, Any] = {
    "TFServingError": obj({"error": typed("string")}, ("error",)),
    "TFServingPredictRequest": {
        **PREDICT.schema(),
        "description": "exactly one of instances (row format: strings or {\"text\": "
                       "string}) or inputs (columnar: strings or {\"text\": [strings]})",
        "example": {"instances": ["Hola mundo", "Buenos días"]},
    },
    "TFServingPredictResponse": obj({
        "predictions": _VECTORS, "outputs": _VECTORS},
        description="predictions for a row-format request, outputs for a columnar one"),
    "TFServingVersionStatus": obj({
        "version": typed("string"),
        "state": typed("string", enum=["START", "LOADING", "AVAILABLE", "END"]),
        "status": obj({"error_code": typed("string"), "error_message": typed("string")},
                      ("error_code", "error_message")),
    }, ("version", "state", "status")),
    "TFServingModelStatus": obj({
        "model_version_status": array(ref("TFServingVersionStatus"), "newest first")},
        ("model_version_status",)),
    "TFServingMetadata": obj({
        "model_spec": obj({"name": typed("string"), "signature_name": typed("string"),
                           "version": typed("string")}, ("name", "version")),
        "metadata": obj({"signature_def": typed(
            "object", "serving_default: a text input, an embedding output")}),
    }, ("model_spec", "metadata")),
}


def _status(summary: str, operation_id: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": operation_id,
                    "responses": responses(ERROR, ("The versions' states",
                                                   ref("TFServingModelStatus")),
                                           _401=NO_KEY, _404=NOT_SERVED, _429=BUSY)}}


def _metadata(operation_id: str) -> dict[str, Any]:
    return {"get": {"summary": "The serving signature", "operationId": operation_id,
                    "responses": responses(ERROR, ("The signature", ref("TFServingMetadata")),
                                           _401=NO_KEY, _404=NOT_SERVED, _429=BUSY,
                                           _503=UNAVAILABLE)}}


def _predict(operation_id: str) -> dict[str, Any]:
    return {"post": {
        "summary": "Embed texts, as TF Serving's :predict does",
        "operationId": operation_id,
        "parameters": body(ref("TFServingPredictRequest")),
        "responses": responses(
            ERROR, ("One embedding per text", ref("TFServingPredictResponse")),
            _400=BAD_BODY, _401=NO_KEY, _404=NOT_SERVED, _413=TOO_LARGE, _415=NOT_JSON,
            _429=BUSY, _503=UNAVAILABLE)}}


def _with(parameters: list[dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": parameters, **item}


PATHS: dict[str, Any] = {
    "/v1/models/{name}": _with([NAME], _status("The model's versions", "tfserving_status")),
    "/v1/models/{name}/versions/{version}": _with(
        [NAME, VERSION], _status("One version's state", "tfserving_version_status")),
    "/v1/models/{name}/metadata": _with([NAME], _metadata("tfserving_metadata")),
    "/v1/models/{name}/versions/{version}/metadata": _with(
        [NAME, VERSION], _metadata("tfserving_version_metadata")),
    "/v1/models/{name}:predict": _with([NAME], _predict("tfserving_predict")),
    "/v1/models/{name}/versions/{version}:predict": _with(
        [NAME, VERSION], _predict("tfserving_version_predict")),
}
