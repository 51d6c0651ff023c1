"""API keys: who may call the API, compared in constant time.

Keys come from API_KEYS (plain) and API_KEYS_FILE (SHA-256 hex digests, so
plain keys need not sit on disk); both are kept only as digests. A key is
checked by hashing what the client sent and comparing it with every digest
with `hmac.compare_digest`, so neither a key's content nor its position in
the list shows in the timing.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import Iterable

from flask import Request

from ..settings import ConfigError, Settings

_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
#: The scheme in WWW-Authenticate and in the Swagger spec.
REALM = 'Bearer realm="embedding-server"'


class KeyFileError(ConfigError):
    """API_KEYS_FILE cannot be read or holds something that is not a digest."""


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def read_key_file(path: str) -> list[bytes]:
    """Digests from a file: one SHA-256 hex digest per line; blank lines and
    lines starting with # are skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise KeyFileError(f"API_KEYS_FILE {path!r} cannot be read: {error.strerror}") from None
    digests = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not _DIGEST.fullmatch(text):
            raise KeyFileError(f"API_KEYS_FILE {path!r} line {number} is not a SHA-256 "
                               "hex digest (sha256sum of the key, 64 hex characters)")
        digests.append(bytes.fromhex(text))
    return digests


class KeyRing:
    """The accepted keys, as digests."""

    def __init__(self, keys: Iterable[str] = (), digests: Iterable[bytes] = ()):
        self._digests = [digest(key) for key in keys] + list(digests)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def identify(self, key: str | None) -> str | None:
        """A short, stable id of an accepted key (for rate limits and logs),
        or None when the key is missing or wrong."""
        if not key:
            return None
        sent = digest(key)
        accepted = False
        for known in self._digests:  # no early exit: the time is the same for any key
            accepted |= hmac.compare_digest(sent, known)
        return sent.hex()[:16] if accepted else None


def key_from(request: Request) -> str | None:
    """The key a client sent: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def build_keyring(config: Settings) -> KeyRing:
    """The accepted API keys: API_KEYS and API_KEYS_FILE together."""
    digests = read_key_file(config.API_KEYS_FILE) if config.API_KEYS_FILE else []
    return KeyRing(config.API_KEYS, digests)
