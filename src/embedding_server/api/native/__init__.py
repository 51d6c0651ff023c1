"""The native API: a flask-restx Api on a blueprint at /api/v1, with Swagger.

Every route is listed here, in one table: the resources themselves only say
what they do and answer.
"""
from __future__ import annotations

from flask import Blueprint
from flask_restx import Resource

from ... import __version__
from ..keys import KeyRing
from ..access import install_auth
from ..common import json_response
from ..errors import register_api_errors
from ..openapi import DocumentedApi
from .models import Embed, ModelList, ModelStatus, Predict, Reload
from .namespace import guarded, ns
from .text_tools import Similarity, Tokenize

API_PREFIX = "/api/v1"

#: How clients authenticate, as Swagger 2.0 can say it ("Authorize" in the UI).
AUTHORIZATIONS = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "bearer": {"type": "apiKey", "in": "header", "name": "Authorization",
               "description": "'Bearer <key>'"},
}

#: Every resource of the `models` namespace and its path under /api/v1/models.
ROUTES: tuple[tuple[type[Resource], str], ...] = (
    (ModelList, ""),
    (ModelStatus, "/<string:name>"),
    (Predict, "/<string:name>/predict"),
    (Embed, "/<string:name>/embed"),
    (Similarity, "/<string:name>/similarity"),
    (Tokenize, "/<string:name>/tokenize"),
    (Reload, "/<string:name>/reload"),
)


def _register_routes() -> None:
    for resource, path in ROUTES:
        documented = guarded(resource)
        if "<string:name>" in path:
            documented = ns.param("name", "model name, as in MODEL_NAMES")(documented)
        ns.add_resource(documented, path)


_register_routes()  # once: the namespace is shared by every app's Api


def create_blueprint(keyring: KeyRing | None = None, swagger_ui: bool = True) -> Blueprint:
    """A fresh blueprint and Api, so every app gets its own (no module state
    but the namespace's route table)."""
    blueprint = Blueprint("api", __name__, url_prefix=API_PREFIX)
    secured = bool(keyring)
    api = DocumentedApi(
        blueprint, version=__version__, title="Sentence Embeddings Server",
        description="Sentence embeddings from TensorFlow models: the native API, and "
        "OpenAI- and TF Serving-compatible endpoints",
        doc="/" if swagger_ui else False,
        authorizations=AUTHORIZATIONS if secured else None,
        security=[{"apiKey": []}, {"bearer": []}] if secured else None)
    install_auth(blueprint, keyring or KeyRing())
    api.representation("application/json")(json_response)
    api.add_namespace(ns)
    register_api_errors(api)
    return blueprint
