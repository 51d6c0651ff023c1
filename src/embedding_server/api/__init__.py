"""HTTP layer: a flask-restx API on a blueprint at /api/v1 (no TensorFlow here)."""
from __future__ import annotations

from flask import Blueprint
from flask_restx import Api

from .. import __version__
from .encoding import output_json
from .errors import register_api_errors
from .models import ns as models_namespace

API_PREFIX = "/api/v1"


def create_blueprint() -> Blueprint:
    """A fresh blueprint and Api, so every app gets its own (no module state)."""
    blueprint = Blueprint("api", __name__, url_prefix=API_PREFIX)
    api = Api(blueprint, version=__version__, title="Sentence Embeddings Server",
              description="Sentence embeddings from TensorFlow models", doc="/")
    api.representation("application/json")(output_json)
    api.add_namespace(models_namespace)
    register_api_errors(api)
    return blueprint
