"""A client connection whose every read keeps a deadline.

gunicorn's gevent worker bounds only the wait for a kept-alive
connection's next request, and not at all the first request's, nor a body:
a connection that never sends a byte, a head sent a byte every few
seconds, or a body at 1 KB/s held a worker's connection slot for as long as
the client liked, and 1,000 such connections per worker denied everyone
else. Here each read is bounded by what is left of its phase's deadline:

- idle: from accept, or from the end of the previous response, until the
  next request's first byte (`idle_s`);
- head: from that first byte until the head has been parsed (`head_s`);
- body: from the end of the head until the application has read the body
  (`body_s`).

An idle or head deadline that passes ends the read as if the client had
closed (gunicorn then closes quietly); a body deadline raises `BodyTimeout`,
which the request body turns into a 408.

A response leaves in one write: gunicorn sends its head, then its body, in
two calls, so each answer took two trips through the kernel's TCP path and
woke the client twice; the head is held until the body's first piece (or
the end of the request) and sent with it.

A connection closed with bytes of the client's still unread (a refused
request, a body answered before it was read) lingers first, as nginx's
`lingering_close` does: closing a socket whose receive buffer holds data
sends a reset, which can destroy the answer before the client has read it.
It stops writing, then reads and drops what still comes for at most
`LINGER_S` or `LINGER_BYTES`, whichever ends first.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from time import monotonic
from typing import Any

IDLE, HEAD, BODY = "idle", "head", "body"

LINGER_S = 1.0
LINGER_BYTES = 1 << 20
#: A body up to this size is joined to its head and sent in one call.
_JOIN_BELOW = 256 * 1024


@dataclass(frozen=True)
class Deadlines:
    """Seconds each phase of a request may take (see the module docstring)."""
    idle_s: float
    head_s: float
    body_s: float


class BodyTimeout(Exception):
    """The request body did not arrive within its deadline."""


class ClientGone(Exception):
    """The client closed the connection before sending the whole body."""


class Connection:
    """A gevent client socket with deadlines on its reads; every other use
    (writes, close, options) goes to the socket itself."""

    def __init__(self, sock: Any, deadlines: Deadlines):
        self._sock = sock
        self.deadlines = deadlines
        #: gunicorn's request being served on this connection, if any.
        self.request: Any = None
        self._phase = IDLE
        self._deadline = monotonic() + deadlines.idle_s
        self._linger = False
        #: The response head, held for the body's first piece.
        self._head: bytes | None = None
        self._hold_head = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def serve(self, request: Any) -> None:
        """The head of `request` is parsed: its body has `body_s` from now."""
        self.request = request
        self._phase = BODY
        self._deadline = monotonic() + self.deadlines.body_s
        self._hold_head = True  # gunicorn's first write of a response is its head

    def await_request(self) -> None:
        """The response is sent: the next request has `idle_s` to begin."""
        self.flush()
        self.request = None
        self._phase = IDLE
        self._deadline = monotonic() + self.deadlines.idle_s

    def close_after_response(self) -> None:
        """Answer the current request with `Connection: close` and close: its
        body is not (or not wholly) read, so where the next request would
        begin is unknown."""
        if self.request is not None:
            self.request.force_close()
        self._linger = True

    def refused(self) -> None:
        """A request was refused before it was read to its end: linger on close."""
        self._linger = True

    def sendall(self, data: bytes) -> None:
        # An informational answer (103 Early Hints) goes at once; the final
        # head is held. Both start "HTTP/1.x NNN": the status's first digit.
        if self._hold_head and data[9:10] != b"1":
            self._hold_head = False
            self._head = bytes(data)
            return
        head = self._head
        if head is None:
            self._sock.sendall(data)
            return
        self._head = None
        if len(data) <= _JOIN_BELOW:
            self._sock.sendall(head + data)
        else:  # no copy of a large body to save one call
            self._sock.sendall(head)
            self._sock.sendall(data)

    def flush(self) -> None:
        """Send a held head that no body followed (HEAD, 204, an error)."""
        self._hold_head = False
        head, self._head = self._head, None
        if head is not None:
            self._sock.sendall(head)

    def sendfile(self, *args: Any, **kwargs: Any) -> Any:
        self.flush()
        return self._sock.sendfile(*args, **kwargs)

    def close(self) -> None:
        sock = self._sock
        try:
            self.flush()
        except OSError:
            pass  # the client is gone: nothing to finish
        if self._linger:
            self._linger = False
            try:
                sock.shutdown(socket.SHUT_WR)
                end = monotonic() + LINGER_S
                dropped = 0
                while dropped < LINGER_BYTES and (left := end - monotonic()) > 0:
                    sock.settimeout(left)
                    data = sock.recv(65536)
                    if not data:
                        break
                    dropped += len(data)
            except OSError:  # socket.timeout included: the linger is over
                pass
        sock.close()

    def recv(self, size: int) -> bytes:
        remaining = self._deadline - monotonic()
        if remaining <= 0:
            return self._expired()
        sock = self._sock
        sock.settimeout(remaining)
        try:
            data = sock.recv(size)
        except socket.timeout:
            return self._expired()
        finally:
            sock.settimeout(None)
        if not data:
            if self._phase is BODY:
                self.close_after_response()
                raise ClientGone()
        elif self._phase is IDLE:
            self._phase = HEAD
            self._deadline = monotonic() + self.deadlines.head_s
        return data

    def _expired(self) -> bytes:
        if self._phase is BODY:
            self.close_after_response()
            raise BodyTimeout()
        return b""  # the parser reads it as a closed connection, and stops
