"""Request ids and the access log: one line per request, with its duration."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

log = logging.getLogger("embedding_server.access")

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is echoed into logs and headers, so only a safe shape is kept.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The client's request id when it is safe to echo, else a new one."""
    if header and _SAFE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def install_request_log(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info("%s %s %d %.1fms request_id=%s", request.method, request.path,
                 response.status_code, duration_ms, request_id)
        return response
