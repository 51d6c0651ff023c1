"""request_headers: what pywsgi and gunicorn read of a request's headers,
and the blocks it refuses."""
import io
from http import client

import pytest

from embedding_server.request_headers import MAX_HEADERS, MAX_LINE, read_headers

TYPICAL = (b"Host: 127.0.0.1:5000\r\nUser-Agent: python-requests/2.32.3\r\n"
           b"Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n"
           b"Content-Length: 40\r\nContent-Type: application/json\r\n\r\n")


def read(block: bytes):
    return read_headers(io.BytesIO(block))


def test_a_typical_block_reads_as_the_standard_library_reads_it():
    ours, stdlib = read(TYPICAL), client.parse_headers(io.BytesIO(TYPICAL))
    assert ours.status == ""
    assert ours.items() == stdlib.items()
    for name in ("host", "CONTENT-LENGTH", "Content-Type", "accept", "missing"):
        assert ours.get(name) == stdlib.get(name)
    assert ours.typeheader == "application/json"
    assert ours.getheader("x-none", "fallback") == "fallback"
    assert "connection" in ours and "upgrade" not in ours


def test_the_block_ends_at_its_empty_line_and_leaves_the_body():
    stream = io.BytesIO(b"Content-Length: 4\r\n\r\nbody")
    assert read_headers(stream).get("content-length") == "4"
    assert stream.read() == b"body"


def test_bare_line_feeds_and_an_early_end_of_stream_close_the_block():
    assert read(b"A: 1\nB: 2\n\n").items() == [("A", "1"), ("B", "2")]
    assert read(b"A: 1\r\n").items() == [("A", "1")]
    assert read(b"").items() == []


def test_the_lines_pywsgi_builds_the_environ_from():
    headers = read(b"X-Trace:  a b \r\nX-Trace: c\r\nEmpty:\r\n\r\n")
    assert list(headers.headers) == ["X-Trace: a b\r\n", "X-Trace: c\r\n", "Empty: \r\n"]
    assert headers.get("x-trace") == "a b"  # the first of a repeated field


def test_deleting_a_field_removes_every_one_of_that_name():
    headers = read(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"
                   b"content-length: 5\r\nHost: h\r\n\r\n")
    del headers["Content-Length"]
    assert headers.get("content-length") is None
    assert headers.items() == [("Transfer-Encoding", "chunked"), ("Host", "h")]
    del headers["Not-There"]  # as the email message: nothing to remove, no error
    assert len(headers.items()) == 2


def test_latin1_values_are_kept():
    assert read("X-Name: Año\r\n\r\n".encode("latin-1")).get("x-name") == "Año"


@pytest.mark.parametrize("block", [
    b"no colon here\r\n\r\n",
    b"Host : spaced\r\n\r\n",  # whitespace between the name and the colon
    b" Host: h\r\n\r\n",  # a folded line as the first line
    b"Host: h\r\n continued\r\n\r\n",  # obs-fold
    b"\tHost: h\r\n\r\n",
    b": no name\r\n\r\n",
    b"Bad\x01Name: x\r\n\r\n",
    b"X: a\rb\r\n\r\n",  # a bare CR inside the value
    b"X: a\x00b\r\n\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
])
def test_a_malformed_block_is_refused(block):
    headers = read(block)
    assert headers.status
    assert headers.items() == []
    assert "Host" not in headers.status and "\\x" not in headers.status  # the line is not quoted


def test_the_refusal_names_the_line():
    assert read(b"Host: h\r\nX-A: 1\r\n  2\r\n\r\n").status.startswith(
        "header line 3 is not 'Name: value'")
    assert read(b"X: a\x00b\r\n\r\n").status == "header line 1 has a CR or NUL in its value"
    assert read(b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n").status == (
        "two different Content-Length values")


def test_repeated_equal_content_lengths_are_accepted():
    headers = read(b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n")
    assert headers.status == "" and headers.get("content-length") == "5"


def test_a_line_longer_than_the_limit_is_refused_and_one_at_it_is_not():
    at_limit = b"X: " + b"a" * (MAX_LINE - 5) + b"\r\n"
    assert len(at_limit) == MAX_LINE
    assert read(at_limit + b"\r\n").status == ""
    too_long = read(b"A: 1\r\nX: " + b"a" * (MAX_LINE - 4) + b"\r\n\r\n")
    assert too_long.status == f"header line 2 is over {MAX_LINE} bytes"


def test_more_headers_than_the_limit_are_refused():
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS))
    assert read(fields + b"\r\n").status == ""
    assert read(fields + b"One-More: v\r\n\r\n").status == f"more than {MAX_HEADERS} header lines"
