"""The operations group: health probes and metrics, open to everyone."""
from __future__ import annotations

from typing import Any

from ...serving.registry import MODEL_STATES
from .shapes import array, nullable, obj, ref, typed

DEFINITIONS: dict[str, Any] = {
    "Liveness": obj({"status": typed("string", enum=["alive"])}, ("status",)),
    "Readiness": obj({
        "ready": typed("boolean", "every model finished loading and one serves"),
        "models": array(obj({
            "name": typed("string"),
            "state": typed("string", enum=[state.value for state in MODEL_STATES]),
            "version": nullable(typed("integer")),
            "error": nullable(typed("string")),
        }, ("name", "state", "version", "error"))),
    }, ("ready", "models")),
}

PATHS: dict[str, Any] = {
    "/health/live": {"get": {
        "summary": "Liveness: 200 while the process answers",
        "operationId": "health_live",
        "responses": {"200": {"description": "Alive", "schema": ref("Liveness")}},
    }},
    "/health/ready": {"get": {
        "summary": "Readiness: 200 once every model finished loading and one serves",
        "operationId": "health_ready",
        "responses": {"200": {"description": "Ready", "schema": ref("Readiness")},
                      "503": {"description": "Not ready yet, or no model serves",
                              "schema": ref("Readiness")}},
    }},
    "/metrics": {"get": {
        "summary": "Prometheus metrics, every worker's values merged",
        "operationId": "metrics",
        "produces": ["text/plain"],
        "responses": {"200": {"description": "Prometheus text exposition format",
                              "schema": typed("string")}},
    }},
}
