"""The request body as the application reads it, and the checks gunicorn
leaves to the application.

Whatever goes wrong while the body is read is the client's fault and is
answered as one: a malformed chunk (400), a body slower than its deadline
(408), a client gone halfway (400, logged at INFO by the access log like
any client error). Each such request, and any request answered before its
body was wholly read (a 413 for a chunked body over MAX_CONTENT_LENGTH, a
refused API key), is answered with `Connection: close`: no byte of an
unread body may be taken for the next request.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

import orjson
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, ClientDisconnected, RequestTimeout

from ..metrics import REFUSED
from .connection import BodyTimeout, ClientGone, Connection

log = logging.getLogger("embedding_server.worker")


class RequestBody:
    """gunicorn's body stream, its faults raised as HTTP errors, and whether
    it was read to its end."""

    def __init__(self, stream: Any, connection: Connection, length: int | None):
        self._stream = stream
        self._connection = connection
        #: Bytes of a sized body not yet read (None: chunked).
        self._left = length
        self.ended = False

    def read(self, size: int | None = -1) -> bytes:
        data = self._guarded(self._stream.read, size)
        self._count(data, size is None or size < 0 or len(data) < size)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = self._guarded(self._stream.readline, size)
        self._count(line, not line)
        return line

    def _count(self, data: bytes, at_end: bool) -> None:
        if self._left is not None:
            self._left -= len(data)
            at_end = at_end or self._left <= 0
        if at_end:
            self.ended = True

    def __iter__(self) -> Iterable[bytes]:
        return iter(self.readline, b"")

    def _guarded(self, read: Callable[[Any], bytes], size: int | None) -> bytes:
        try:
            return read(size)
        except BodyTimeout:
            raise RequestTimeout(
                f"the request body did not arrive within "
                f"{self._connection.deadlines.body_s:g} s (BODY_TIMEOUT)") from None
        except ClientGone:
            raise ClientDisconnected(
                "the client closed the connection before sending the whole body") from None
        except ParseException as error:
            self._connection.close_after_response()
            raise BadRequest(f"malformed request body: {_short(error)}") from None


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 200 else text[:200] + "..."


def refusal(status: int, reason: str, message: str) -> bytes:
    """A whole response refusing a request the application never sees: a JSON
    message as for every other client error, and the connection closed."""
    body = orjson.dumps({"message": message})
    return (b"HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"X-Content-Type-Options: nosniff\r\nContent-Length: %d\r\n\r\n%s"
            % (status, reason.encode("ascii"), len(body), body))


_NO_HOST = orjson.dumps({"message": "an HTTP/1.1 request must have a Host header"})


def checked(app: Callable) -> Callable:
    """The application behind the request checks gunicorn does not make: a
    Host header on HTTP/1.1 (RFC 9112, section 3.2), and a body either read
    to its end or the connection closed after the answer."""

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        connection = environ.get("gunicorn.socket")
        if not isinstance(connection, Connection):
            return app(environ, start_response)
        if "HTTP_HOST" not in environ and environ.get("SERVER_PROTOCOL") == "HTTP/1.1":
            connection.close_after_response()
            REFUSED.labels("400").inc()
            log.info("refused a request from %s: 400 no Host header on HTTP/1.1",
                     environ.get("REMOTE_ADDR"))
            start_response("400 Bad Request", [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(_NO_HOST))),
                ("X-Content-Type-Options", "nosniff")])
            return [_NO_HOST]
        chunked = "HTTP_TRANSFER_ENCODING" in environ
        length = environ.get("CONTENT_LENGTH") or "0"  # strict digits: gunicorn checked
        if length == "0" and not chunked:
            return app(environ, start_response)
        body = RequestBody(environ["wsgi.input"], connection, None if chunked else int(length))
        environ["wsgi.input"] = body
        result = app(environ, start_response)
        if not body.ended:
            connection.close_after_response()
        return result

    return wsgi
