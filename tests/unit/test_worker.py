"""The worker's connection deadlines, request body and refusals (worker/)."""
from __future__ import annotations

import io
import socket
import threading
import time

import orjson
import pytest
from gunicorn.http.errors import (
    InvalidChunkSize, InvalidHeader, InvalidResponseHeader, LimitRequestHeaders,
    LimitRequestLine, UnsupportedTransferCoding)
from werkzeug.exceptions import BadRequest, ClientDisconnected, RequestTimeout

from embedding_server.metrics import REQUESTS, observe_request
from embedding_server.worker.body import RequestBody, checked, refusal
from embedding_server.worker.connection import BodyTimeout, ClientGone, Connection, Deadlines
from embedding_server.worker.gevent_worker import refusal_status

SHORT = Deadlines(idle_s=0.2, head_s=0.4, body_s=0.3)


class Request:
    """What a Connection uses of gunicorn's request."""
    must_close = False

    def force_close(self):
        self.must_close = True


@pytest.fixture()
def pair():
    ours, client = socket.socketpair()
    yield Connection(ours, SHORT), client
    ours.close()
    client.close()


def test_a_silent_connection_reads_as_closed_after_the_idle_deadline(pair):
    connection, _ = pair
    started = time.monotonic()
    assert connection.recv(100) == b""
    assert 0.15 < time.monotonic() - started < 1.0


def test_the_first_byte_starts_the_head_deadline_which_a_slow_head_cannot_extend(pair):
    connection, client = pair
    client.sendall(b"G")
    assert connection.recv(100) == b"G"
    started = time.monotonic()
    for _ in range(3):  # a byte every 0.1 s does not keep the head alive
        time.sleep(0.1)
        client.sendall(b"E")
        connection.recv(100)
    assert connection.recv(100) == b""
    assert time.monotonic() - started < 0.4 + 0.3


def test_a_slow_body_raises_and_closes_after_the_answer(pair):
    connection, _ = pair
    request = Request()
    connection.serve(request)
    with pytest.raises(BodyTimeout):
        connection.recv(100)
    assert request.must_close


def test_a_client_gone_mid_body_is_its_own_fault(pair):
    connection, client = pair
    request = Request()
    connection.serve(request)
    client.close()
    with pytest.raises(ClientGone):
        connection.recv(100)
    assert request.must_close


def test_after_a_response_the_idle_deadline_starts_again(pair):
    connection, client = pair
    connection.serve(Request())
    connection.await_request()
    client.sendall(b"x")
    assert connection.recv(100) == b"x"
    assert connection.request is None


class Stream:
    def __init__(self, data: bytes = b"", error: Exception | None = None):
        self._data, self._error = io.BytesIO(data), error

    def read(self, size=-1):
        if self._error:
            raise self._error
        return self._data.read(size)

    readline = read


class FakeConnection(Connection):
    def __init__(self):
        super().__init__(None, Deadlines(5, 10, 30))
        self.request = Request()


def test_a_sized_body_read_whole_has_ended():
    body = RequestBody(Stream(b"abc"), FakeConnection(), 3)
    assert body.read(3) == b"abc" and body.ended


def test_a_sized_body_read_in_part_has_not():
    body = RequestBody(Stream(b"abc"), FakeConnection(), 3)
    assert body.read(2) == b"ab" and not body.ended


def test_a_chunked_body_ends_when_a_read_comes_back_short():
    body = RequestBody(Stream(b"abc"), FakeConnection(), None)
    assert body.read(3) == b"abc" and not body.ended  # more may follow
    assert body.read(10) == b"" and body.ended


@pytest.mark.parametrize("error, expected, text", [
    (BodyTimeout(), RequestTimeout, "BODY_TIMEOUT"),
    (ClientGone(), ClientDisconnected, "closed the connection"),
    (InvalidChunkSize(b"zz"), BadRequest, "malformed request body"),
])
def test_body_faults_are_client_errors_and_close_the_connection(error, expected, text):
    connection = FakeConnection()
    body = RequestBody(Stream(error=error), connection, None)
    with pytest.raises(expected, match=text):
        body.read(10)
    if isinstance(error, InvalidChunkSize):  # the others closed in Connection.recv
        assert connection.request.must_close


def _call(app, environ):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(checked(app)(environ, start_response))
    return seen["status"], body


def _environ(connection, **extra):
    return {"gunicorn.socket": connection, "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "t", **extra}


def _reads(size):
    def app(environ, start_response):
        environ["wsgi.input"].read(size)
        start_response("200 OK", [])
        return [b"ok"]
    return app


def test_http_1_1_without_host_is_refused_and_closed():
    connection = FakeConnection()
    environ = _environ(connection)
    del environ["HTTP_HOST"]
    status, body = _call(_reads(0), environ)
    assert status.startswith("400") and b"Host" in body and connection.request.must_close


def test_a_body_left_unread_closes_the_connection():
    connection = FakeConnection()
    _call(_reads(1), _environ(connection, CONTENT_LENGTH="3", **{"wsgi.input": Stream(b"abc")}))
    assert connection.request.must_close


def test_a_body_read_whole_keeps_it_open():
    connection = FakeConnection()
    status, _ = _call(_reads(3), _environ(
        connection, CONTENT_LENGTH="3", **{"wsgi.input": Stream(b"abc")}))
    assert status == "200 OK" and not connection.request.must_close


@pytest.mark.parametrize("error, status", [
    (LimitRequestLine(5000, 4094), 414),
    (LimitRequestHeaders("fields"), 431),
    (UnsupportedTransferCoding("xchunked"), 501),
    (InvalidHeader("CONTENT-LENGTH"), 400),
])
def test_parser_refusals_keep_their_status(error, status):
    assert refusal_status(error)[0] == status


def test_a_bad_response_header_is_the_servers_fault():
    assert refusal_status(InvalidResponseHeader("X")) is None
    assert refusal_status(RuntimeError("boom")) is None


def test_a_refusal_is_a_whole_json_response_that_closes():
    raw = refusal(431, "Request Header Fields Too Large", "too many")
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ") and b"Connection: close" in head
    assert orjson.loads(body) == {"message": "too many"}
    assert f"Content-Length: {len(body)}".encode() in head


def test_made_up_methods_are_counted_as_other():
    observe_request("/unit-test", "MADEUP", 405, 0.001)
    labels = {tuple(sample.labels.values()) for metric in REQUESTS.collect()
              for sample in metric.samples}
    assert ("/unit-test", "other", "405") in labels
    assert not any("MADEUP" in value for values in labels for value in values)


def _pending(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    try:
        return sock.recv(1 << 20)
    except BlockingIOError:
        return b""
    finally:
        sock.setblocking(True)


def test_a_response_head_leaves_with_the_body(pair):
    connection, client = pair
    connection.serve(Request())
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
    assert _pending(client) == b""  # held
    connection.sendall(b"ok")
    assert _pending(client) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    connection.sendall(b"more")  # later pieces go as they come
    assert _pending(client) == b"more"


def test_a_head_without_a_body_leaves_when_the_request_ends(pair):
    connection, client = pair
    connection.serve(Request())
    connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    connection.await_request()
    assert _pending(client) == b"HTTP/1.1 204 No Content\r\n\r\n"


def test_informational_answers_are_not_held(pair):
    connection, client = pair
    connection.serve(Request())
    connection.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
    assert _pending(client).startswith(b"HTTP/1.1 103")
    connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    assert _pending(client) == b""


def test_a_large_body_follows_its_head_uncopied(pair):
    connection, client = pair
    connection.serve(Request())
    body = b"x" * (300 * 1024)
    received = []
    reader = threading.Thread(target=lambda: received.append(
        b"".join(iter(lambda: client.recv(1 << 16), b""))))
    reader.start()
    connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    connection.sendall(body)
    connection.close()
    reader.join(5)
    assert received == [b"HTTP/1.1 200 OK\r\n\r\n" + body]
