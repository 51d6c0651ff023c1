"""Request ids, the access log and the request metrics: one line and one
observation per request, with its duration."""
from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from flask import Flask, Response, g, request

from .metrics import observe_request

log = logging.getLogger("embedding_server.access")

REQUEST_ID_HEADER = "X-Request-ID"
#: The WSGI environ key of the headers our own code adds to a response; the
#: WSGI layer appends them as ready-made tuples (see api.access.ResponseHeaders),
#: skipping Werkzeug's header object, which validates and searches on each set.
RESPONSE_HEADERS = "embedding_server.response_headers"
# A client's id is echoed into logs and headers, so only a safe shape is kept.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The client's request id when it is safe to echo, else a new one."""
    if header and _SAFE_ID.fullmatch(header):
        return header
    return secrets.token_hex(16)  # as random as uuid4, a third of its cost


def note_model(model: str, version: int, batch_size: int, stages: Any = None) -> None:
    """What served this request, for its access-log line and, when tracing
    is on, its spans (`stages`: the embedding's timings; see tracing.Stages).
    One attribute: each access through Flask's `g` proxy costs a context lookup."""
    g.served = (model, version, batch_size, stages)


def add_headers(*pairs: tuple[str, str], environ: dict | None = None) -> None:
    """Headers for this request's response, appended at the WSGI layer
    (`environ`: the request's, when the caller holds it already)."""
    if environ is None:
        environ = request.environ
    environ.setdefault(RESPONSE_HEADERS, []).extend(pairs)


def install_request_log(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        context = g._get_current_object()
        context.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        context.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        context = g._get_current_object()  # one context lookup for the reads below
        request_id = getattr(context, "request_id", None) or request_id_from(None)
        seconds = time.perf_counter() - getattr(context, "started", time.perf_counter())
        current = request._get_current_object()  # type: ignore[attr-defined]
        add_headers((REQUEST_ID_HEADER, request_id), environ=current.environ)
        # The route's pattern, not the path: one series per endpoint, however
        # many model names or bad paths clients send.
        rule = current.url_rule
        endpoint = rule.rule if rule else "unmatched"
        observe_request(endpoint, current.method, response.status_code, seconds)
        if log.isEnabledFor(logging.INFO):
            model, version, batch_size, _ = context.get("served") or (None, None, None, None)
            # Set by tracing (when on), so a log line leads to its trace.
            trace_id = context.get("trace_id")
            log.info("%s %s %d %.1fms request_id=%s%s", request.method, request.path,
                     response.status_code, seconds * 1000, request_id,
                     f" trace_id={trace_id}" if trace_id else "",
                     extra={"request_id": request_id, "method": request.method,
                            "endpoint": endpoint, "path": request.path,
                            "model": model, "version": version,
                            "status": response.status_code,
                            "latency_ms": round(seconds * 1000, 3),
                            "batch_size": batch_size, "trace_id": trace_id})
        return response
