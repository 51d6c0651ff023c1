"""Every error leaves as JSON `{"message": ...}` with its proper status.

Client faults keep their 4xx; anything unexpected is logged with the request
id and answered 500 without a stack trace.
"""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from flask_restx import Api
from werkzeug.exceptions import HTTPException

from ..serving.errors import InvalidParameter, ModelNotAvailable, ModelNotFound

log = logging.getLogger(__name__)

SERVING_STATUS = {ModelNotFound: 404, ModelNotAvailable: 503, InvalidParameter: 400}


def internal_error_message() -> str:
    request_id = g.get("request_id", "unknown")
    log.exception("unhandled error (request id %s)", request_id)
    return f"internal server error; quote request id {request_id} when reporting it"


def register_api_errors(api: Api) -> None:
    for error_class, status in SERVING_STATUS.items():
        api.errorhandler(error_class)(
            lambda error, status=status: ({"message": str(error)}, status))

    @api.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return {"message": error.description}, error.code
        return {"message": internal_error_message()}, 500


def register_app_errors(app: Flask) -> None:
    """The same JSON shape for routes outside the API (e.g. an unknown path)."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = jsonify(message=error.description)
        response.status_code = error.code
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        response = jsonify(message=internal_error_message())
        response.status_code = 500
        return response
