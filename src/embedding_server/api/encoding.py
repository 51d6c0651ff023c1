"""Bytes on the wire: request bodies read within MAX_CONTENT_LENGTH (sized,
chunked or gzip-compressed), and embeddings as base64 for bulk clients
(little-endian float32: smaller than JSON floats, and exact).
"""
from __future__ import annotations

import zlib

import numpy as np
import pybase64
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType


def base64_rows(vectors: np.ndarray) -> list[str]:
    """Each row as base64 of its little-endian float32 bytes.

    pybase64 encodes with SIMD, many times faster than the standard
    library's binascii. When a row's bytes are a multiple of 3 (a dimension
    divisible by 3, as bow-spanish's 300), base64 of the whole matrix falls
    on row boundaries with no padding between rows: one call, then slices;
    other dimensions need each row's own padding and are encoded row by row.
    """
    little = np.ascontiguousarray(vectors, dtype="<f4")
    if little.ndim != 2 or little.shape[1] % 3 or not little.shape[1]:
        return [pybase64.b64encode_as_string(row.tobytes()) for row in little]
    text = pybase64.b64encode_as_string(little.data)
    width = little.shape[1] * 4 // 3 * 4
    return [text[start:start + width] for start in range(0, len(text), width)]


def body_bytes(environ: dict, limit: int) -> bytes | None:
    """The body of a sized or chunked request, 413 past `limit` bytes; None
    for any other request (no body framing the WSGI server told us of),
    which Werkzeug's stream handles.

    A sized body is read in one call: Werkzeug wraps the input in a limiting
    stream first (a visible share of a small request), and the WSGI
    server already stops the input at Content-Length. A chunked body is read
    to one byte past the limit: Werkzeug's stream stops at the limit and
    returns what it has, so a larger body was silently cut there.
    """
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "")
    if "HTTP_TRANSFER_ENCODING" in environ:
        data = stream.read(limit + 1)
    elif length.isascii() and length.isdigit():  # not "²", which int() refuses
        size = int(length)
        if size > limit:
            raise _too_large(limit)
        return stream.read(size)
    else:
        return None
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(
        f"the request body is larger than {limit} bytes (MAX_CONTENT_LENGTH)")


def decompressed(data: bytes, encoding: str, limit: int) -> bytes:
    """A gzip-compressed body, inflated to at most `limit` bytes: the size
    limit holds for what the body becomes, so a small bomb is refused early."""
    if encoding.strip().lower() not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; "
                                   "send gzip or an uncompressed body")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        raise BadRequest(f"the gzip body cannot be decompressed ({error})") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise RequestEntityTooLarge(
            f"the decompressed body is larger than {limit} bytes (MAX_CONTENT_LENGTH)")
    if not inflater.eof:
        raise BadRequest("the gzip body is truncated")
    return body
