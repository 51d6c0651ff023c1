"""TensorFlow Serving's REST API: `/v1/models/<name>[/versions/<v>][/metadata|:predict]`.

Clients written for TF Serving work unchanged. The served signature takes
text (the server tokenizes) and returns the embedding: `{"instances":
["text", ...]}` (row format, or `[{"text": ...}, ...]`) gives `{"predictions":
[[...], ...]}`; `{"inputs": [...]}` (columnar, or `{"text": [...]}`) gives
`{"outputs": [[...], ...]}`. Versions are the registry's; a request for a
version that is not the one serving is 404, as in TF Serving for a version it
does not hold. Texts are checked as in every API here (`requests`); a body
may add `"truncate": true`. Errors are `{"error": "..."}`.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from ..serving.errors import ServingError
from ..serving.registry import ModelEntry, ModelState
from .access import install_auth
from .common import json_body, json_response, limits, registry, timing
from .errors import http_headers, serving_error
from .keys import KeyRing
from .requests import (
    TRUNCATE, Context, Field, Form, InvalidRequest, String, check_texts, truncate_flag)

_PATH = re.compile(r"(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                   r"(?:(?P<metadata>/metadata)|:(?P<verb>[a-z]+))?")
SIGNATURE = "serving_default"
INPUT, OUTPUT = "text", "embedding"
#: Our version states as TF Serving names them (ModelVersionStatus.State).
_STATES = {ModelState.LOADING: "LOADING", ModelState.AVAILABLE: "AVAILABLE",
           ModelState.FAILED: "END", ModelState.PENDING: "START",
           ModelState.UNLOADED: "END"}


class TFServingError(Exception):
    def __init__(self, message: str, status: int = 400, allow: str | None = None):
        super().__init__(message)
        self.status = status
        #: A 405's Allow header: the methods the path takes.
        self.allow = allow


def error_response(status: int, message: str, headers: Any = None) -> Response:
    return json_response({"error": message}, status, headers)


def _version_status(entry: ModelEntry, version: int | None) -> list[dict[str, Any]]:
    versions = dict(entry.versions)
    if version is not None:
        if version not in versions:
            raise TFServingError(f"Servable not found for request: "
                                 f"Specific({entry.name}, {version})", 404)
        versions = {version: versions[version]}
    statuses = []
    for number, status in sorted(versions.items(), reverse=True):
        failed = status.state is ModelState.FAILED
        statuses.append({
            "version": str(number), "state": _STATES[status.state],
            "status": {"error_code": "UNKNOWN" if failed else "OK",
                       "error_message": (status.error or "") if failed else ""}})
    return statuses


def _served_version(entry: ModelEntry, version: int | None) -> None:
    if version is not None and version != entry.version:
        raise TFServingError(f"Servable not found for request: Specific({entry.name}, "
                             f"{version}); serving version {entry.version}", 404)


def _metadata(entry: ModelEntry, version: int | None) -> dict[str, Any]:
    _served_version(entry, version)
    servable = registry().get(entry.name)
    tensor = {"dtype": "DT_FLOAT", "tensor_shape": {
        "dim": [{"size": "-1", "name": ""}, {"size": str(servable.embedding_dim), "name": ""}],
        "unknown_rank": False}, "name": OUTPUT}
    signature = {"inputs": {INPUT: {"dtype": "DT_STRING", "tensor_shape": {
                     "dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
                     "name": INPUT}},
                 "outputs": {OUTPUT: tensor}, "method_name": "tensorflow/serving/predict"}
    return {"model_spec": {"name": entry.name, "signature_name": "",
                           "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}}}}


class Inputs(Field):
    """The texts of `instances` (a list of strings or of {"text": string})
    or `inputs` (a list of strings or {"text": [strings]}), checked as every
    API's texts are."""

    def __init__(self, columnar: bool):
        self.columnar = columnar
        super().__init__({"description": "texts to embed"})

    def parse(self, value: Any, name: str, context: Context) -> list[str]:
        if self.columnar and isinstance(value, dict) and set(value) == {INPUT}:
            value = value[INPUT]
        elif not self.columnar and isinstance(value, list):
            value = [v.get(INPUT) if isinstance(v, dict) and set(v) == {INPUT} else v
                     for v in value]
        return check_texts(value, name, context)


PREDICT = Form({"signature_name": String(default=SIGNATURE),
                "instances": Inputs(columnar=False), "inputs": Inputs(columnar=True),
                TRUNCATE: truncate_flag()})


def _texts(body: Any) -> tuple[list[str], bool]:
    """The texts of a predict body, and whether it was columnar."""
    if isinstance(body, dict) and ("instances" in body) == ("inputs" in body):
        raise TFServingError("exactly one of 'instances' (row format) or 'inputs' "
                             "(columnar format) is required")
    parsed = PREDICT.parse(body, limits())
    if parsed["signature_name"] != SIGNATURE:
        raise TFServingError(f"signature_name {parsed['signature_name']!r} not found; "
                             f"the signature is {SIGNATURE!r}")
    columnar = parsed["inputs"] is not None
    return parsed["inputs"] if columnar else parsed["instances"], columnar


def _predict(entry: ModelEntry, version: int | None) -> Response:
    _served_version(entry, version)
    with registry().use(entry.name) as servable:
        texts, columnar = _texts(json_body())
        result = servable.embed(texts)
    key = "outputs" if columnar else "predictions"
    timing(entry.name, result)
    return json_response({key: result.vectors})


#: Versions are int64 in TF Serving; more digits name no version (and past
#: 4,300 digits Python refuses to convert them at all).
_MAX_VERSION_DIGITS = 18


def _version(digits: str | None, name: str) -> int | None:
    if digits is None:
        return None
    if len(digits) > _MAX_VERSION_DIGITS:
        raise TFServingError(f"Servable not found for request: Specific({name}, "
                             f"a version of {len(digits)} digits)", 404)
    return int(digits)


def _route(rest: str) -> Response:
    match = _PATH.fullmatch(rest)
    if not match:
        raise TFServingError(f"malformed request path /v1/models/{rest}", 404)
    entry = registry().entry(match["name"])
    version = _version(match["version"], entry.name)
    verb = match["verb"]
    # What this path takes, not what the shared rule does (RFC 9110 15.5.6).
    allow = "OPTIONS, POST" if verb else "GET, HEAD, OPTIONS"
    if request.method == "OPTIONS":
        return Response(status=200, headers={"Allow": allow})
    if request.method in ("GET", "HEAD") and not verb:
        if match["metadata"]:
            return json_response(_metadata(entry, version))
        return json_response({"model_version_status": _version_status(entry, version)})
    if request.method == "POST" and verb == "predict" and not match["metadata"]:
        return _predict(entry, version)
    if verb and verb != "predict":
        raise TFServingError(f"{verb!r} is not supported; embeddings are served by "
                             "':predict'", 404 if request.method == "POST" else 405, allow)
    raise TFServingError(f"{request.method} is not supported on this path", 405, allow)


def create_tfserving_blueprint(keyring: KeyRing | None = None) -> Blueprint:
    blueprint = Blueprint("tfserving", __name__)
    install_auth(blueprint, keyring or KeyRing(), lambda message: error_response(401, message))
    blueprint.add_url_rule("/v1/models/<path:rest>", "model", _route,
                           methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)

    @blueprint.errorhandler(TFServingError)
    def tfserving_error(error: TFServingError) -> Response:
        return error_response(error.status, str(error),
                              {"Allow": error.allow} if error.allow else None)

    @blueprint.errorhandler(InvalidRequest)
    def invalid(error: InvalidRequest) -> Response:
        # TF Serving answers every invalid request 400; too much is still 413.
        return error_response(400 if error.status == 422 else error.status, error.message)

    @blueprint.errorhandler(ServingError)
    def serving(error: ServingError) -> Response:
        message, status, headers = serving_error(error)
        return error_response(status, message, headers)

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return error_response(error.code or 500, error.description or error.name,
                              http_headers(error))

    return blueprint
