"""Merging restx's native spec with the other groups into one document."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_restx import Api

from . import openai, operations, tfserving


@dataclass(frozen=True)
class Group:
    """One tag of the document: its description, paths and definitions."""
    tag: str
    description: str
    paths: dict[str, Any]
    definitions: dict[str, Any]
    #: Open to everyone (no API key), whatever the server's keys.
    open: bool = False


#: The groups besides the native API, in the order the Swagger UI lists them.
GROUPS = (
    Group("openai", "OpenAI-compatible embeddings: POST /v1/embeddings as OpenAI's SDKs "
          "send it", openai.PATHS, openai.DEFINITIONS),
    Group("tfserving", "TensorFlow Serving-compatible REST API: model status, "
          "metadata and :predict", tfserving.PATHS, tfserving.DEFINITIONS),
    Group("operations", "Health probes and Prometheus metrics (no API key)",
          operations.PATHS, operations.DEFINITIONS, open=True),
)


def merge(native: dict[str, Any], groups: tuple[Group, ...]) -> dict[str, Any]:
    """The native spec (paths under its basePath) and `groups` (absolute
    paths) as one document with basePath "/"."""
    base = native.get("basePath", "/").rstrip("/")
    document = {key: value for key, value in native.items()
                # restx lists its error handlers as top-level responses that
                # no operation uses, some without the description Swagger requires.
                if key not in ("paths", "definitions", "tags", "responses")}
    document["basePath"] = "/"
    paths = {base + path: item for path, item in native.get("paths", {}).items()}
    definitions = dict(native.get("definitions", {}))
    tags = list(native.get("tags", []))
    for group in groups:
        tags.append({"name": group.tag, "description": group.description})
        clashes = (set(paths) & set(group.paths)) | (set(definitions) & set(group.definitions))
        if clashes:
            raise ValueError(f"group {group.tag!r} redefines {sorted(clashes)}")
        for path, item in group.paths.items():
            paths[path] = {method: _tagged(operation, group) if method != "parameters"
                           else operation for method, operation in item.items()}
        definitions.update(group.definitions)
    document.update(paths=paths, definitions=definitions, tags=tags)
    return document


def _tagged(operation: dict[str, Any], group: Group) -> dict[str, Any]:
    operation = {"tags": [group.tag], **operation}
    if group.open:
        operation["security"] = []  # overrides the document's keys, if any
    return operation


class DocumentedApi(Api):
    """restx's Api, whose spec is the whole API's document."""

    _document: dict[str, Any] | None = None

    @property
    def __schema__(self) -> dict[str, Any]:
        if self._document is None:
            native = super().__schema__
            if "error" in native:  # restx could not write its part; it says why
                return native
            self._document = merge(native, GROUPS)
        return self._document
