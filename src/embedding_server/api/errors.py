"""Every error leaves as JSON `{"message": ...}` with its proper status.

Client faults keep their 4xx; overload is a fast 429 or 503 with Retry-After;
a model whose run raises answers 503 for that model only; anything
unexpected is logged with the request id and answered 500 without a stack
trace.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, g
from flask_restx import Api
from werkzeug.exceptions import HTTPException

from ..serving.errors import (
    InferenceFailed, InvalidParameter, ModelNotAvailable, ModelNotFound, QueueFull,
    RequestTimedOut, ServingError)
from .common import json_response
from .requests import InvalidRequest

log = logging.getLogger(__name__)

#: Status, and headers, of each serving error: the same in every API (native,
#: OpenAI, TF Serving); only the body's shape differs. A model whose run raised
#: answers 503: the model, not the server, is at fault, and the other models
#: keep serving.
SERVING_ERRORS: dict[type[ServingError], tuple[int, dict[str, str]]] = {
    ModelNotFound: (404, {}),
    InvalidParameter: (400, {}),
    QueueFull: (429, {"Retry-After": "1"}),
    RequestTimedOut: (503, {"Retry-After": "1"}),
    ModelNotAvailable: (503, {}),
    InferenceFailed: (503, {}),
}


def server_fault_message(error: BaseException) -> str:
    """Log a server fault with its traceback; the client gets only the request id."""
    request_id = g.get("request_id", "unknown")
    log.error("server error (request id %s): %s", request_id, error, exc_info=error)
    g.logged_fault = error
    return f"internal server error; quote request id {request_id} when reporting it"


def already_logged(error: BaseException | None) -> bool:
    """Whether `server_fault_message` logged this error for this request."""
    return error is not None and g.get("logged_fault") is error


def serving_error(error: ServingError) -> tuple[str, int, dict[str, str]]:
    """Message, status and headers of a serving error. A failed model run is
    logged with its traceback; the client's message quotes only the request id."""
    status, headers = SERVING_ERRORS[type(error)]
    if isinstance(error, InferenceFailed):
        return server_fault_message(error), status, headers
    return str(error), status, headers


def http_headers(error: HTTPException) -> dict[str, str]:
    """The headers an HTTP error carries besides its body (405's Allow, 429's
    Retry-After), for the JSON response that replaces werkzeug's HTML one."""
    return {name: value for name, value in error.get_headers()
            if name.lower() != "content-type"}


def register_api_errors(api: Api) -> None:
    # Registered before the catch-all below: restx takes the first match.
    @api.errorhandler(InvalidRequest)
    def invalid(error: InvalidRequest):
        return {"message": error.message}, error.status

    @api.errorhandler(ServingError)
    def serving(error: ServingError):
        message, status, headers = serving_error(error)
        return {"message": message}, status, headers

    @api.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return {"message": error.description}, error.code, http_headers(error)
        return {"message": server_fault_message(error)}, 500


def register_app_errors(app: Flask) -> None:
    """The same JSON shape for routes outside the API (e.g. an unknown path)."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return json_response({"message": error.description}, error.code or 500,
                             http_headers(error))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        return json_response({"message": server_fault_message(error)}, 500)
