"""How `OneWriteHandler` finishes a send the socket took only part of."""
import pytest

from embedding_server.worker.handler import OneWriteHandler


class Socket:
    """Takes `takes` bytes of a sendmsg (or refuses it), and records what
    each call was given."""

    def __init__(self, takes):
        self.takes, self.calls = takes, []

    def sendmsg(self, buffers):
        if self.takes is None:
            raise NotImplementedError("no scatter-gather on this socket")
        self.calls.append(("sendmsg", b"".join(buffers)[:self.takes]))
        return self.takes

    def sendall(self, data):
        self.calls.append(("sendall", bytes(data)))


def _send(takes):
    handler = OneWriteHandler.__new__(OneWriteHandler)  # no connection needed
    handler.socket = Socket(takes)
    handler._send_together(b"HEAD", b"body-bytes")
    return handler.socket.calls


@pytest.mark.parametrize("takes, then", [
    (14, []),                                                  # all of it at once
    (6, [("sendall", b"dy-bytes")]),                           # stopped inside the body
    (4, [("sendall", b"body-bytes")]),                         # at the boundary
    (2, [("sendall", b"AD"), ("sendall", b"body-bytes")]),     # inside the head
    (0, [("sendall", b"HEAD"), ("sendall", b"body-bytes")]),   # nothing (a full buffer)
])
def test_a_partial_send_finishes_where_it_stopped(takes, then):
    calls = _send(takes)
    assert calls[0] == ("sendmsg", b"HEADbody-bytes"[:takes])
    assert calls[1:] == then
    assert b"".join(data for _, data in calls) == b"HEADbody-bytes"


def test_a_socket_without_scatter_gather_gets_head_then_body():
    assert _send(None) == [("sendall", b"HEAD"), ("sendall", b"body-bytes")]
