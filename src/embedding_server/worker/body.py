"""The request body as the application reads it: a deadline, and its faults
answered as the client's.

Whatever goes wrong while the body is read is the client's fault and is
answered as one: a malformed chunk (400), a body slower than its deadline
(408), a client gone halfway (400; logged once, at INFO, by the access log
like any client error). After any of these the connection is closed.

A body the application did not read to its end (a GET that carries one, a
413, a refused API key) is skipped, as nginx and gunicorn do, only when its
length is known and the rest is small (`DRAIN_LIMIT`), within the body's
deadline; otherwise (larger, chunked, slow) the answer says
`Connection: close` and the connection closes: no byte of an unread body is
ever taken for the next request, and a client cannot make the worker read
a large body it has already refused.
"""
from __future__ import annotations

from time import monotonic
from typing import Any, Callable, Iterator

import orjson
from gevent import Timeout
from gevent.pywsgi import _InvalidClientInput
from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException, RequestTimeout

#: The most unread bytes of a sized body skipped to keep a connection open.
DRAIN_LIMIT = 64 * 1024


class RequestBody:
    """pywsgi's body stream with a deadline, its faults raised as HTTP
    errors, and whether it was read to its end.

    `close` is called when the connection must not serve another request.
    """

    def __init__(self, stream: Any, length: int | None, deadline_s: float,
                 close: Callable[[], None]):
        self._stream = stream
        #: Bytes of a sized body not yet read (None: chunked).
        self._left = length
        self._deadline_s = deadline_s
        self._deadline = monotonic() + deadline_s
        self._close = close
        self.ended = length == 0

    def read(self, size: int | None = None) -> bytes:
        data = self._guarded(self._stream.read, size)
        self._count(data, size is None or size < 0 or len(data) < size)
        return data

    def readline(self, size: int | None = None) -> bytes:
        line = self._guarded(self._stream.readline, size)
        self._count(line, not line)
        return line

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return list(self)  # PEP 3333 asks for it; `hint` may be ignored

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    @property
    def closes_connection(self) -> bool:
        """Whether answering now must close the connection: the body is not
        read to its end, and what is left is not small and sized."""
        return not self.ended and (self._left is None or self._left > DRAIN_LIMIT)

    def _discard(self) -> None:
        """pywsgi's hook after the response: skip a small sized rest, or close."""
        if self.ended:
            return
        if self.closes_connection:
            self._close()
            return
        try:
            self.read(self._left)
        except HTTPException:
            return  # timed out, malformed or gone: closed already
        if not self.ended:
            self._close()

    def _count(self, data: bytes, at_end: bool) -> None:
        if self._left is not None:
            self._left -= len(data)
            at_end = at_end or self._left <= 0
        if at_end:
            self.ended = True

    def _guarded(self, read: Callable[[Any], bytes], size: int | None) -> bytes:
        remaining = self._deadline - monotonic()
        if remaining <= 0:
            raise self._timed_out()
        timer = Timeout(remaining)
        timer.start()
        try:
            return read(size)
        except Timeout as error:
            if error is not timer:
                raise
            raise self._timed_out() from None
        except _InvalidClientInput as error:  # a malformed chunk
            self._close()
            raise BadRequest(f"malformed request body: {_short(error)}") from None
        except OSError:  # pywsgi's "unexpected end of file", a reset
            self._close()
            raise ClientDisconnected(
                "the client closed the connection before sending the whole body") from None
        finally:
            timer.close()

    def _timed_out(self) -> RequestTimeout:
        self._close()
        return RequestTimeout(f"the request body did not arrive within "
                              f"{self._deadline_s:g} s (BODY_TIMEOUT)")


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 200 else text[:200] + "..."


def refusal(code: int, reason: str, message: str) -> bytes:
    """A whole response refusing a request the application never sees: a JSON
    message as for every other client error, and the connection closed."""
    body = orjson.dumps({"message": message})
    return (b"HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"X-Content-Type-Options: nosniff\r\nContent-Length: %d\r\n\r\n%s"
            % (code, reason.encode("ascii"), len(body), body))
