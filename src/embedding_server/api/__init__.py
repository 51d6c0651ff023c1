"""HTTP layer: a flask-restx API on a blueprint at /api/v1 (no TensorFlow here)."""
from __future__ import annotations

from flask import Blueprint
from flask_restx import Api

from .. import __version__
from ..auth import KeyRing
from .access import install_auth
from .encoding import output_json
from .errors import register_api_errors
from .models import ns as models_namespace
from . import text_tools  # noqa: F401  (adds /similarity and /tokenize to the namespace)

API_PREFIX = "/api/v1"

#: How clients authenticate, as Swagger 2.0 can say it ("Authorize" in the UI).
AUTHORIZATIONS = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "bearer": {"type": "apiKey", "in": "header", "name": "Authorization",
               "description": "'Bearer <key>'"},
}


def create_blueprint(keyring: KeyRing | None = None, swagger_ui: bool = True) -> Blueprint:
    """A fresh blueprint and Api, so every app gets its own (no module state)."""
    blueprint = Blueprint("api", __name__, url_prefix=API_PREFIX)
    secured = bool(keyring)
    api = Api(blueprint, version=__version__, title="Sentence Embeddings Server",
              description="Sentence embeddings from TensorFlow models",
              doc="/" if swagger_ui else False,
              authorizations=AUTHORIZATIONS if secured else None,
              security=[{"apiKey": []}, {"bearer": []}] if secured else None)
    install_auth(blueprint, keyring or KeyRing())
    api.representation("application/json")(output_json)
    api.add_namespace(models_namespace)
    register_api_errors(api)
    return blueprint
