"""gunicorn's gevent worker, with deadlines on every read and client faults
answered as client faults.

gunicorn parses each request (its parser refuses the smuggling shapes of
RFC 9112, sections 6 and 7, and keeps `limit_request_line`,
`limit_request_fields` and `limit_request_field_size`); this class only
wraps each connection in `connection.Connection` and answers what the
parser refuses with a JSON message, logged in one line at INFO, where
gunicorn answers HTML and logs a warning.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any

from gunicorn.http.errors import (
    ExpectationFailed, ForbiddenProxyRequest, LimitRequestHeaders, LimitRequestLine,
    ParseException, UnsupportedTransferCoding)
from gunicorn.workers.ggevent import GeventWorker

from ..metrics import REFUSED
from .body import refusal
from .connection import Connection, Deadlines

log = logging.getLogger("embedding_server.worker")

#: Status and reason of each refusal; any other parse error is a 400.
_STATUS = (
    (LimitRequestLine, 414, "URI Too Long"),
    (LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (UnsupportedTransferCoding, 501, "Not Implemented"),
    (ExpectationFailed, 417, "Expectation Failed"),
    (ForbiddenProxyRequest, 403, "Forbidden"),
    (ParseException, 400, "Bad Request"),
)


def refusal_status(error: BaseException) -> tuple[int, str] | None:
    """The status a request refused by the parser gets (None: not a client
    fault). A response header the application wrote wrongly is a parse error
    too in gunicorn's eyes, but the server's fault: gunicorn's 500 it stays."""
    from gunicorn.http.errors import InvalidResponseHeader, InvalidResponseHeaderName

    if isinstance(error, (InvalidResponseHeader, InvalidResponseHeaderName)):
        return None
    for kind, status, reason in _STATUS:
        if isinstance(error, kind):
            return status, reason
    return None


class HardenedGeventWorker(GeventWorker):
    """See the module docstring. `deadlines` is bound by `worker_class`."""

    deadlines: Deadlines

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        super().handle(listener, Connection(client, self.deadlines), addr)

    def timeout_ctx(self) -> contextlib.nullcontext:
        # gunicorn's is a timeout on the next request's head, kept-alive
        # connections only; every read of a `Connection` keeps its own.
        return contextlib.nullcontext()

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        sock.serve(req)
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            sock.await_request()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refused = refusal_status(exc)
        if refused is None:
            super().handle_error(req, client, addr, exc)  # logged with its traceback
            return
        status, reason = refused
        message = str(exc)
        if len(message) > 200:
            message = message[:200] + "..."
        REFUSED.labels(str(status)).inc()
        log.info("refused a request from %s: %d %s", (addr or ("",))[0], status, message)
        try:
            client.sendall(refusal(status, reason, message))
        except OSError:
            return  # the client is gone already
        if isinstance(client, Connection):
            client.refused()


def worker_class(deadlines: Deadlines) -> type[HardenedGeventWorker]:
    """The worker class gunicorn is given, with the deadlines bound."""
    return type("HardenedGeventWorker", (HardenedGeventWorker,), {"deadlines": deadlines})
