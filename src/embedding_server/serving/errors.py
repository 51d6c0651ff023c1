"""Errors the serving layer raises for the API layer to turn into responses."""
from __future__ import annotations


class ServingError(Exception):
    """Base of the errors a request can meet in the serving layer."""


class ModelNotFound(ServingError):
    """No model of that name is configured (HTTP 404)."""


class ModelNotAvailable(ServingError):
    """The model is configured but not AVAILABLE (HTTP 503)."""


class InvalidParameter(ServingError):
    """The request asks the model for something it does not take (HTTP 400)."""


class QueueFull(ServingError):
    """Too many requests are waiting for the model (HTTP 429, retry later)."""


class RequestTimedOut(ServingError):
    """The request waited past REQUEST_TIMEOUT_MS (HTTP 503)."""


class InferenceFailed(ServingError):
    """The model raised while computing (HTTP 503 for that model; logged and counted)."""
