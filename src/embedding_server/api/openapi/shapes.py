"""Small builders for Swagger 2.0 objects, so each group's paths read as a table."""
from __future__ import annotations

from typing import Any


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (),
        description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def array(items: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items}
    if description:
        schema["description"] = description
    return schema


def typed(kind: str, description: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, **extra}
    if description:
        schema["description"] = description
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "x-nullable": True}


def path_parameter(name: str, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "type": kind,
            "description": description, **extra}


def body(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "payload", "in": "body", "required": True, "schema": schema}]


def responses(error: dict[str, Any], ok: tuple[str, dict[str, Any]],
              **errors: str) -> dict[str, Any]:
    """200 with its schema, then each error status (`_404="..."`) with `error`."""
    answers = {"200": {"description": ok[0], "schema": ok[1]}}
    for status, description in errors.items():
        answers[status.lstrip("_")] = {"description": description, "schema": error}
    return answers


#: Error statuses, worded once for every group.
BAD_BODY = "Malformed body, wrong type, unknown field, value out of range or empty text"
NO_KEY = "Missing or wrong API key (when API keys are configured)"
TOO_LARGE = ("Body larger than MAX_CONTENT_LENGTH, more than MAX_BATCH_TEXTS texts, "
             "or a text over MAX_TEXT_CHARS")
NOT_JSON = "A Content-Encoding other than gzip, or a Content-Type that cannot be JSON"
BUSY = "The client's rate limit is spent, or the model's queue is full; see Retry-After"
UNAVAILABLE = "The model is not AVAILABLE, or its run failed"
