"""Endpoints for the platform rather than for clients: health probes and metrics.

They live outside /api/v1 at the paths probes and scrapers expect, and stay
open (no auth, no rate limit) so orchestration never locks itself out.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app

from ..observability.metrics import render
from .common import json_response


def create_ops_blueprint() -> Blueprint:
    blueprint = Blueprint("ops", __name__)

    @blueprint.get("/health/live")
    def live() -> Response:
        """200 while the process answers at all."""
        return json_response({"status": "alive"})

    @blueprint.get("/health/ready")
    def ready() -> Response:
        """200 once every model has finished loading and one serves; else 503."""
        registry = current_app.extensions["registry"]
        models = [{"name": entry.name, "state": entry.state.value,
                   "version": entry.version, "error": entry.error}
                  for entry in registry.entries()]
        is_ready = registry.ready()
        return json_response({"ready": is_ready, "models": models}, 200 if is_ready else 503)

    @blueprint.get("/metrics")
    def metrics() -> Response:
        """Prometheus text format, every worker's values merged."""
        body, content_type = render()
        return Response(body, content_type=content_type)

    return blueprint
