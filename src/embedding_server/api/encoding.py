"""Response encoding: orjson, which writes numpy arrays without a Python list.

Embedding responses are mostly floats; `json.dumps` over `ndarray.tolist()`
was the largest single cost of a small request. Bulk clients can ask for
base64 (little-endian float32), which is smaller still and exact.
"""
from __future__ import annotations

import base64
from typing import Any, Mapping

import numpy as np
import orjson
from flask import Response, current_app

OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def output_json(data: Any, code: int, headers: Mapping[str, str] | None = None) -> Response:
    """flask-restx representation for application/json."""
    response = current_app.response_class(orjson.dumps(data, option=OPTIONS),
                                          status=code, mimetype="application/json")
    if headers:
        response.headers.extend(headers)
    return response


def base64_rows(vectors: np.ndarray) -> list[str]:
    """Each row as base64 of its little-endian float32 bytes."""
    little = np.ascontiguousarray(vectors, dtype="<f4")
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in little]
