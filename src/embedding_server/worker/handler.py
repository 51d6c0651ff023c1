"""The `serve` workers' request handler: gevent's pywsgi handler that reads
each request as strictly as gunicorn's parser, within idle, head and body
deadlines (`WorkerHandler`; why not gunicorn's own worker:
docs/performance.md), sends each response's head and body in one write
(`OneWriteHandler`), and reads request headers without the email package
(`request_headers`).

gevent's pywsgi handler sends a response's head and its body in two system
calls. On a keep-alive connection that is two trips through the kernel's
TCP path and, with Nagle off as on loopback, two wake-ups of the client for
one answer, a measurable share of a small response's cost (`/health/live`
answers 20 bytes, `/predict` ~4 KB). One scatter-gather `sendmsg` of head
and body costs one call and copies nothing.
"""
from __future__ import annotations

import logging
import re
import socket
from dataclasses import dataclass
from typing import Any, BinaryIO

from gevent import Timeout
from gunicorn.workers.ggevent import PyWSGIHandler

from ..observability.metrics import REFUSED
from .body import RequestBody, refusal
from .request_headers import HeadLimits, RequestHeaders, read_headers

log = logging.getLogger("embedding_server.worker")


class OneWriteHandler(PyWSGIHandler):
    """gunicorn's pywsgi handler, sending the head with the body's first
    piece (a Flask response's whole body) in one call.

    Chunked responses (an unsized body) and empty ones keep gevent's own
    path; the bytes on the wire are gevent's either way (tested).
    """

    # gevent's attributes this class uses, typed (gevent ships no stubs).
    status: Any
    code: int
    wsgi_input: Any

    def _write_with_headers(self, data: bytes) -> None:
        self.headers_sent = True
        self.finalize_headers()
        head = b"".join([b"HTTP/1.1 ", self.status, b"\r\n",
                         *[b"%s: %s\r\n" % pair for pair in self.response_headers],
                         b"\r\n"])
        if self.response_use_chunked or not data:
            self._sendall(head)
            self._write(data)
            return
        try:
            self._send_together(head, data)
        except socket.error as error:
            # What gevent's `_sendall` records of a failed send, for its log.
            self.status = "socket error: %s" % error
            if self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(head) + len(data)

    def _send_together(self, head: bytes, data: bytes) -> None:
        """Head and body in one call when the socket takes them; a partial
        send (a full socket buffer) finishes with `sendall` from where it
        stopped."""
        sock = self.socket
        try:
            sent = sock.sendmsg([head, data])
        except NotImplementedError:  # a TLS socket takes no scatter-gather
            sent = 0
        if sent < len(head):
            sock.sendall(head[sent:])
            sock.sendall(data)
        elif sent < len(head) + len(data):
            sock.sendall(memoryview(data)[sent - len(head):])


class Refused(ValueError):
    """A request the handler refuses before the application sees it."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code


_REASONS = {400: "Bad Request", 414: "URI Too Long", 431: "Request Header Fields Too Large",
            501: "Not Implemented"}
#: RFC 9110, 9: a token; upper case by convention, as gunicorn requires.
_METHOD = re.compile(r"[A-Z0-9!$%&'*+\-.^_`|~]{3,20}\Z")
#: RFC 9112, 3.2: a request target is printable ASCII, nothing else.
_TARGET = re.compile(r"[\x21-\x7e]+\Z")


@dataclass(frozen=True)
class HttpPolicy:
    """The limits and deadlines of `serve`'s HTTP layer, gunicorn's names and
    defaults where it has them."""
    request_line: int = 4094
    head: HeadLimits = HeadLimits()
    idle_s: float = 5.0
    head_s: float = 10.0
    body_s: float = 30.0


class WorkerHandler(OneWriteHandler):
    """One write per response, and each request read as strictly as
    gunicorn's parser reads it, within deadlines:

    - idle: a connection (new, or after a response) whose next request has
      not begun within `idle_s` is closed;
    - head: a request line and headers not complete `head_s` after the
      request began are cut (slowloris);
    - body: a body not read `body_s` after its head is a 408 (`body`).

    A request refused before the application gets a JSON message with its
    status (400, 414, 431, 501), as every other client error, and the
    connection is closed; gevent sends an empty body and, after a malformed
    chunk, read on.
    """

    policy = HttpPolicy()  # the serving worker class binds the configured one
    _head_timer: Timeout | None = None

    def MessageClass(self, stream: BinaryIO, *args: object) -> RequestHeaders:  # pywsgi's name
        headers = read_headers(stream, self.policy.head)
        if headers.status:
            raise Refused(f"malformed request headers: {headers.status}", headers.code)
        return headers

    def handle_one_request(self) -> tuple[str, bytes] | bool | None:
        if not self._request_begins():
            return None
        timer = self._head_timer = Timeout(self.policy.head_s)
        timer.start()
        try:
            result = super().handle_one_request()
            if isinstance(result, tuple) and result[0] == "414":  # gevent's own, no body
                return self._handle_client_error(Refused(
                    f"the request line is longer than {self.policy.request_line} bytes "
                    "(LIMIT_REQUEST_LINE)", 414))
            return result
        except Timeout as error:
            if error is not timer:
                raise
            return None  # a head slower than its deadline: cut
        finally:
            timer.close()

    def _request_begins(self) -> bool:
        """Whether a request's first byte arrives within the idle deadline
        (one already read ahead counts at once)."""
        with Timeout(self.policy.idle_s, False):
            try:
                return bool(self.rfile.peek(1))
            except (OSError, ValueError):  # reset, or the file already closed
                return False
        return False

    def read_requestline(self) -> str:
        return self.rfile.readline(self.policy.request_line + 3).decode("latin-1")

    def read_request(self, raw_requestline: str) -> bool:
        line = raw_requestline
        ended = line.endswith("\r\n")
        if len(line) - 2 * ended > self.policy.request_line:  # gunicorn's count: no CRLF
            raise Refused(f"the request line is longer than {self.policy.request_line} "
                          "bytes (LIMIT_REQUEST_LINE)", 414)
        if not ended:
            raise Refused("the request line does not end with CRLF")
        parts = line[:-2].split(" ")
        if len(parts) != 3:
            raise Refused("the request line is not 'METHOD target HTTP/1.x'")
        method, target, version = parts
        if not _METHOD.match(method):
            raise Refused("the method is not an upper-case token of 3 to 20 characters")
        if not _TARGET.match(target) or not (
                target.startswith("/") or "://" in target
                or (target == "*" and method == "OPTIONS")):
            raise Refused("the request target is not a path, an absolute URI or '*'")
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise Refused("the HTTP version is not HTTP/1.1 or HTTP/1.0")
        super().read_request(line)
        if version == "HTTP/1.1" and "host" not in self.headers:
            raise Refused("an HTTP/1.1 request must have a Host header")
        if version == "HTTP/1.0" and "transfer-encoding" in self.headers:
            raise Refused("Transfer-Encoding is not HTTP/1.0")
        if self._head_timer is not None:
            self._head_timer.close()  # the head is in: the body has its own deadline
        return True

    def _connection_upgrade_requested(self) -> bool:
        # Nothing here upgrades a connection: the body is read as any other
        # (gevent would hand the application the raw socket stream).
        return False

    def get_environ(self) -> dict:
        environ = super().get_environ()
        # The head was checked: a body is chunked, sized, or absent (gevent's
        # input then reads nothing, and there is nothing to guard).
        chunked = "HTTP_TRANSFER_ENCODING" in environ
        if chunked or self.content_length:
            body = RequestBody(self.wsgi_input, None if chunked else self.content_length,
                               self.policy.body_s, self._close_after_response)
            self.wsgi_input = environ["wsgi.input"] = body
        return environ

    def _close_after_response(self) -> None:
        self.close_connection = True

    def start_response(self, status: str, headers: list, exc_info: object = None) -> object:
        # An answer given before a large or chunked body was read to its end
        # (a 413, a 401) closes the connection: that rest is never skipped.
        body = self.wsgi_input
        if isinstance(body, RequestBody) and body.closes_connection:
            self.close_connection = True
        # gevent closes an HTTP/1.1 connection without saying so (RFC 9112, 9.6).
        if self.close_connection and self.request_version == "HTTP/1.1" and not any(
                name.lower() == "connection" for name, _ in headers):
            headers = [*headers, ("Connection", "close")]
        return super().start_response(status, headers, exc_info)

    def _handle_client_error(self, ex: Exception) -> tuple[str, bytes]:
        code = ex.code if isinstance(ex, Refused) else 400
        message = str(ex) if isinstance(ex, Refused) else "malformed HTTP request"
        REFUSED.labels(str(code)).inc()
        log.info("refused a request from %s: %d %s", self.client_address[0]
                 if isinstance(self.client_address, tuple) else self.client_address,
                 code, message)
        return (str(code), refusal(code, _REASONS[code], message))
