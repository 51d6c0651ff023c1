"""request_headers: what pywsgi and gunicorn read of a request's headers,
and the blocks it refuses."""
import io
from http import client

import pytest

from embedding_server.worker.request_headers import HeadLimits, read_headers

LIMITS = HeadLimits()

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


@pytest.mark.parametrize("block", [b"A: 1\nB: 2\n\n", b"A: 1\r\nB: 2\n\r\n", b"A: 1\r\n", b""])
def test_bare_line_feeds_and_an_early_end_of_stream_are_refused(block):
    headers = read(block)
    assert headers.status.endswith("does not end with CRLF") and headers.code == 400


def test_the_lines_pywsgi_builds_the_environ_from():
    headers = read(b"X-Trace:  a b \r\nX-Trace: c\r\nEmpty:\r\n\r\n")
    assert list(headers.headers) == ["X-Trace: a b\r\n", "X-Trace: c\r\n", "Empty: \r\n"]
    assert headers.get("x-trace") == "a b"  # the first of a repeated field


def test_deleting_a_field_removes_every_one_of_that_name():
    headers = read(b"Transfer-Encoding: chunked\r\nX-Trace: 5\r\n"
                   b"x-trace: 6\r\nHost: h\r\n\r\n")
    del headers["X-Trace"]
    assert headers.get("x-trace") is None
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
    b"X: a\x01b\r\n\r\n",
    b"X: a\x7fb\r\n\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
    b"Content-Length: -0\r\n\r\n",
    b"Content-Length: +22\r\n\r\n",
    b"Content-Length: 2_2\r\n\r\n",
    b"Content-Length: \xb2\r\n\r\n",  # a superscript two: a digit to str.isdigit()
    b"Content-Length: 1234567890123456789\r\n\r\n",
    b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"Transfer-Encoding: chunked, chunked\r\n\r\n",
    b"Transfer-Encoding: identity\r\n\r\n",
    b"Transfer-Encoding: chunked, gzip\r\n\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n\r\n",
    b"Host: a\r\nHost: b\r\n\r\n",
])
def test_a_malformed_block_is_refused(block):
    headers = read(block)
    assert headers.status
    assert headers.items() == []
    # The line is not quoted back.
    assert not any(word in headers.status for word in ("spaced", "continued", "\\x"))


def test_the_refusal_names_the_line():
    assert read(b"Host: h\r\nX-A: 1\r\n  2\r\n\r\n").status.startswith(
        "header line 3 is not 'Name: value'")
    assert read(b"X: a\x00b\r\n\r\n").status == (
        "header line 1 has a control character in its value")
    assert read(b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n").status == (
        "more than one Content-Length")


def test_an_unknown_transfer_coding_is_not_implemented():
    headers = read(b"Transfer-Encoding: xchunked\r\n\r\n")
    assert headers.code == 501 and "'xchunked'" in headers.status
    assert read(b"Transfer-Encoding: identity\r\n\r\n").code == 400


def test_one_chunked_coding_and_a_plain_length_are_accepted():
    assert read(b"Transfer-Encoding: Chunked\r\n\r\n").status == ""
    assert read(b"Content-Length: 0042\r\n\r\n").get("content-length") == "0042"


def test_a_line_longer_than_the_limit_is_431_and_one_at_it_is_not():
    size = LIMITS.field_size  # a line's bytes, its CRLF included, as gunicorn counts
    at_limit = b"X: " + b"a" * (size - 5) + b"\r\n"
    assert len(at_limit) == size
    assert read(at_limit + b"\r\n").status == ""
    too_long = read(b"A: 1\r\nX: " + b"a" * (size - 4) + b"\r\n\r\n")
    assert too_long.code == 431 and too_long.status.startswith(f"header line 2 is over {size}")
    # A line with no end in sight is cut at the limit, not read on.
    assert read(b"X: " + b"a" * 100_000).code == 431


def test_more_fields_than_the_limit_are_431():
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(LIMITS.fields))
    assert read(fields + b"\r\n").status == ""
    refused = read(fields + b"One-More: v\r\n\r\n")
    assert refused.code == 431 and refused.status.startswith(f"more than {LIMITS.fields}")


def test_limits_are_configurable():
    limits = HeadLimits(fields=2, field_size=64)
    assert read_headers(io.BytesIO(b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n"), limits).code == 431
    assert read_headers(io.BytesIO(b"A: " + b"x" * 60 + b"\r\n\r\n"), limits).code == 431
    assert read_headers(io.BytesIO(b"A: " + b"x" * 59 + b"\r\n\r\n"), limits).status == ""
