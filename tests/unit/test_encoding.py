"""Reading request bodies and writing embeddings (api/encoding.py)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from embedding_server.api.encoding import base64_rows, body_bytes


def environ(body: bytes, **headers: str) -> dict:
    return {"wsgi.input": io.BytesIO(body + b"trailing bytes past the body"), **headers}


def test_a_sized_body_is_read_whole_and_no_further():
    assert body_bytes(environ(b'{"title": "hola"}', CONTENT_LENGTH="17"), 100) == \
        b'{"title": "hola"}'


@pytest.mark.parametrize("headers", [
    {},  # no length stated
    {"CONTENT_LENGTH": ""},
    {"CONTENT_LENGTH": "-1"},
    {"CONTENT_LENGTH": "\u00b2"},  # a digit to str.isdigit(), not to int()
])
def test_a_body_without_framing_is_left_to_werkzeug(headers):
    stream = environ(b'{"title": "hola"}', **headers)
    assert body_bytes(stream, 100) is None
    assert stream["wsgi.input"].tell() == 0  # nothing consumed


def test_a_sized_body_over_the_limit_is_413_unread():
    stream = environ(b"x" * 101, CONTENT_LENGTH="101")
    with pytest.raises(RequestEntityTooLarge, match="larger than 100 bytes"):
        body_bytes(stream, 100)
    assert stream["wsgi.input"].tell() == 0


def test_a_chunked_body_is_read_to_the_limit_and_413_past_it():
    # The WSGI server has undone the chunks: the input ends where the body does.
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked"}
    assert body_bytes({"wsgi.input": io.BytesIO(b"x" * 100), **chunked}, 100) == b"x" * 100
    with pytest.raises(RequestEntityTooLarge, match="MAX_CONTENT_LENGTH"):
        body_bytes({"wsgi.input": io.BytesIO(b"x" * 101), **chunked}, 100)


def test_base64_rows_are_little_endian_float32():
    vectors = np.array([[1.0, -2.5], [0.25, 3.0]], dtype=np.float32)
    rows = base64_rows(vectors)
    decoded = [np.frombuffer(base64.b64decode(row), dtype="<f4") for row in rows]
    np.testing.assert_array_equal(np.stack(decoded), vectors)


@pytest.mark.parametrize("rows,dim", [(64, 300), (3, 256), (5, 3), (1, 7), (0, 300), (2, 0)])
def test_base64_rows_match_row_by_row_encoding(rows, dim):
    # dimensions divisible by 3 are encoded as one buffer and sliced: every
    # slice must be exactly that row's own base64, padding included
    vectors = np.random.default_rng(dim).standard_normal((rows, dim))
    expected = [base64.b64encode(row.astype("<f4").tobytes()).decode("ascii") for row in vectors]
    assert base64_rows(vectors) == expected
