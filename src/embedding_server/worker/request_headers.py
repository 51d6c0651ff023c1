"""A request's header lines, read in one pass and checked as RFC 9112 asks.

gevent's pywsgi reads them with `http.client.parse_headers`, which hands
the block to the `email` package's feed parser: ~30 us for the three to
seven headers of a typical request, against ~3 us for this reader (timeit,
one process), on every request. `RequestHeaders` offers what pywsgi uses of
the stdlib message (`get`, `getheader`, `typeheader`, `headers`, `items`,
deletion, `status`).

It refuses, with the status gunicorn's parser gives the same block (the
hostile-client tests drive both shapes, tests/system/test_http_hardening.py):
- 431: more than `fields` lines, or a line longer than `field_size` bytes
  (its CRLF included, as gunicorn counts);
- 400: a line without CRLF (bare LF, or the stream ended), a name that is
  not a token (whitespace before the colon, a folded continuation line), a
  control character in a value (CR, LF, NUL, 0x01-0x1f but tab, DEL);
- 400: a framing that two parsers could read differently (RFC 9112, 6.1
  and 6.3): Content-Length given twice or not plain digits, Content-Length
  with Transfer-Encoding, a Transfer-Encoding other than one final `chunked`;
  an unknown transfer coding is a 501;
- 400: a second Host.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO, Iterator

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
#: RFC 9110, 5.5: field values hold visible characters, spaces and tabs.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: A length no body within any MAX_CONTENT_LENGTH exceeds; more digits than
#: this are refused rather than converted (Python refuses past 4,300).
_LENGTH = re.compile(r"[0-9]{1,18}\Z")
#: Transfer codings HTTP defines; any other is not implemented (501).
_KNOWN_CODINGS = frozenset({"chunked", "identity", "gzip", "x-gzip", "deflate",
                            "compress", "x-compress"})


@dataclass(frozen=True)
class HeadLimits:
    """gunicorn's `limit_request_fields` and `limit_request_field_size`."""
    fields: int = 100
    field_size: int = 8190


class RequestHeaders:
    """Header fields in the order sent; lookups by name ignore case and
    return the first field of that name."""

    __slots__ = ("status", "code", "_fields", "_first")

    def __init__(self, fields: list[tuple[str, str]] | None = None, status: str = "",
                 code: int = 400) -> None:
        #: Why the block is refused, or "" (the stdlib message's attribute, kept).
        self.status = status
        #: The HTTP status of a refusal.
        self.code = code
        self._fields = fields or []
        self._first: dict[str, str] = {}
        for name, value in reversed(self._fields):
            self._first[name.lower()] = value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    getheader = get

    @property
    def typeheader(self) -> str | None:
        return self._first.get("content-type")

    @property
    def headers(self) -> Iterator[str]:
        """The fields as lines, the form pywsgi builds the WSGI environ from."""
        for name, value in self._fields:
            yield f"{name}: {value}\r\n"

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._first

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._fields = [field for field in self._fields if field[0].lower() != lowered]
        self._first.pop(lowered, None)


def _refused(status: str, code: int = 400) -> RequestHeaders:
    return RequestHeaders(status=status, code=code)


def read_headers(stream: BinaryIO, limits: HeadLimits = HeadLimits()) -> RequestHeaders:
    """The header block from `stream`, up to and including its empty line.

    A refused block's `status` says why without quoting the line, since it
    is what the client is told; `code` is its HTTP status.
    """
    fields: list[tuple[str, str]] = []
    while True:
        # gunicorn counts a field's bytes with its CRLF: so does this limit.
        line = stream.readline(limits.field_size + 1)
        if line == b"\r\n":
            break
        number = len(fields) + 1
        if len(line) > limits.field_size:
            return _refused(f"header line {number} is over {limits.field_size} bytes "
                            "(LIMIT_REQUEST_FIELD_SIZE)", 431)
        if not line.endswith(b"\r\n"):
            return _refused(f"header line {number} does not end with CRLF")
        if number > limits.fields:
            return _refused(f"more than {limits.fields} header fields (LIMIT_REQUEST_FIELDS)",
                            431)
        name, colon, value = line[:-2].decode("latin-1").partition(":")
        if not colon or not _TOKEN.match(name):
            return _refused(
                f"header line {number} is not 'Name: value' (a token for a name, no "
                "whitespace before the colon, no folded continuation lines)")
        value = value.strip(" \t")
        if _CONTROL.search(value):
            return _refused(f"header line {number} has a control character in its value")
        fields.append((name, value))
    return _framing(fields) or RequestHeaders(fields)


def _framing(fields: list[tuple[str, str]]) -> RequestHeaders | None:
    """The refusal of a head whose body framing is ambiguous, or None."""
    lengths, codings, hosts = [], [], 0
    for name, value in fields:
        lowered = name.lower()
        if lowered == "content-length":
            lengths.append(value)
        elif lowered == "transfer-encoding":
            codings += [coding.strip(" \t").lower() for coding in value.split(",")]
        elif lowered == "host":
            hosts += 1
    if len(lengths) > 1:
        return _refused("more than one Content-Length")
    if lengths and not _LENGTH.match(lengths[0]):
        return _refused("Content-Length is not a whole number of at most 18 digits")
    if codings:
        if lengths:
            return _refused("both Content-Length and Transfer-Encoding")
        unknown = [coding for coding in codings if coding not in _KNOWN_CODINGS]
        if unknown:
            return _refused(f"transfer coding {unknown[0][:40]!r} is not implemented", 501)
        if codings != ["chunked"]:
            return _refused("Transfer-Encoding must be 'chunked', once")
    if hosts > 1:
        return _refused("more than one Host")
    return None
