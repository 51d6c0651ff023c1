"""The request body the application reads (worker/body.py): its deadline,
its faults as client errors, and whether it was read to its end."""
from __future__ import annotations

import io

import orjson
import pytest
from gevent import sleep
from gevent.pywsgi import _InvalidClientInput
from werkzeug.exceptions import BadRequest, ClientDisconnected, RequestTimeout

from embedding_server.observability.metrics import REQUESTS, observe_request
from embedding_server.worker.body import DRAIN_LIMIT, RequestBody, refusal


class Stream:
    def __init__(self, data: bytes = b"", error: BaseException | None = None,
                 delay: float = 0):
        self._data, self._error, self._delay = io.BytesIO(data), error, delay

    def read(self, size=-1):
        return self._next(self._data.read, size)

    def readline(self, size=-1):
        return self._next(self._data.readline, size)

    def _next(self, read, size):
        sleep(self._delay)
        if self._error:
            raise self._error
        return read(-1 if size is None else size)


def body(stream: Stream, length: int | None, deadline_s: float = 30):
    closed = []
    return RequestBody(stream, length, deadline_s, lambda: closed.append(True)), closed


def test_a_sized_body_read_whole_has_ended_and_keeps_the_connection():
    request, closed = body(Stream(b"abc"), 3)
    assert request.read(3) == b"abc" and request.ended
    request._discard()
    assert closed == []


def test_a_small_sized_rest_left_unread_is_skipped_and_keeps_the_connection():
    stream = Stream(b"abc")
    request, closed = body(stream, 3)
    assert request.read(1) == b"a" and not request.closes_connection
    request._discard()
    assert request.ended and closed == [] and stream.read() == b""


def test_a_large_or_chunked_rest_closes_the_connection_instead_of_being_read():
    for length in (DRAIN_LIMIT + 2, None):
        stream = Stream(b"x" * (DRAIN_LIMIT + 2))
        request, closed = body(stream, length)
        assert request.read(1) == b"x" and request.closes_connection
        request._discard()
        assert closed == [True]
        assert len(stream.read()) == DRAIN_LIMIT + 1  # nothing more was read


def test_a_rest_that_never_comes_closes_at_the_deadline():
    request, closed = body(Stream(b"ab", delay=0.3), 2, deadline_s=0.1)
    request._discard()
    assert closed == [True]


def test_lines_as_pep_3333_reads_them():
    request, _ = body(Stream(b"a\nb\n"), 4)
    assert request.readlines() == [b"a\n", b"b\n"] and request.ended


def test_no_body_has_ended_before_any_read():
    assert body(Stream(), 0)[0].ended


def test_a_chunked_body_ends_when_a_read_comes_back_short():
    request, _ = body(Stream(b"abc"), None)
    assert request.read(3) == b"abc" and not request.ended  # more may follow
    assert request.read(10) == b"" and request.ended


def test_a_body_slower_than_its_deadline_is_408_and_closes():
    request, closed = body(Stream(b"abc", delay=0.3), 3, deadline_s=0.1)
    with pytest.raises(RequestTimeout, match="BODY_TIMEOUT"):
        request.read(3)
    assert closed == [True]


def test_the_deadline_counts_from_the_head_not_from_each_read():
    request, _ = body(Stream(b"abcdef", delay=0.06), None, deadline_s=0.15)
    request.read(1)
    request.read(1)
    with pytest.raises(RequestTimeout):
        request.read(1)


@pytest.mark.parametrize("error, expected, text", [
    (_InvalidClientInput("Non-hex data"), BadRequest, "malformed request body"),
    (IOError("unexpected end of file while reading request"), ClientDisconnected,
     "closed the connection"),
    (ConnectionResetError(), ClientDisconnected, "closed the connection"),
])
def test_body_faults_are_client_errors_and_close_the_connection(error, expected, text):
    request, closed = body(Stream(error=error), None)
    with pytest.raises(expected, match=text):
        request.read(10)
    assert closed == [True]


def test_a_refusal_is_a_whole_json_response_that_closes():
    raw = refusal(431, "Request Header Fields Too Large", "too many")
    head, payload = raw.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ") and b"Connection: close" in head
    assert orjson.loads(payload) == {"message": "too many"}
    assert f"Content-Length: {len(payload)}".encode() in head


def test_made_up_methods_are_counted_as_other():
    observe_request("/unit-test", "MADEUP", 405, 0.001)
    labels = {tuple(sample.labels.values()) for metric in REQUESTS.collect()
              for sample in metric.samples}
    assert ("/unit-test", "other", "405") in labels
    assert not any("MADEUP" in value for values in labels for value in values)
