"""The embedding cache: repeated texts are not computed again.

An entry is keyed by model, version, text and everything else that changes
the result (the truncation length and the feed parameters), so a new model
version never serves an old version's entries. It holds the text's vector
(before any normalization), its tokens and its word counts, so a hit answers
exactly as a miss would. Two stores: an in-process LRU per worker, or Redis,
shared by every worker and instance. Redis is an optimization, never a
dependency: when it fails, requests are computed as if uncached, the outage
is logged once and counted, and it is tried again a second later.
"""
from __future__ import annotations

import hashlib
import logging
import struct
import threading
import time
from dataclasses import dataclass
from typing import Hashable, Protocol, Sequence, cast

import numpy as np
import orjson
from cachetools import LRUCache

from ..observability.metrics import CACHE_ERRORS

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<III")  # tokens' JSON length, words, unknown words


@dataclass(frozen=True)
class Cached:
    """One text's embedding and what the response says about its tokens."""
    vector: np.ndarray
    tokens: list[str]
    words: int
    unknown: int

    def to_bytes(self) -> bytes:
        tokens = orjson.dumps(self.tokens)
        return (_HEADER.pack(len(tokens), self.words, self.unknown) + tokens
                + np.ascontiguousarray(self.vector, dtype="<f4").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Cached":
        size, words, unknown = _HEADER.unpack_from(data)
        start = _HEADER.size
        tokens = orjson.loads(data[start:start + size])
        vector = np.frombuffer(data, dtype="<f4", offset=start + size).astype(np.float32)
        return cls(vector, tokens, words, unknown)


def cache_key(model: str, version: int, variant: Hashable, text: str) -> bytes:
    """A fixed-size key; `variant` holds every request setting that changes the vector."""
    material = f"{model}\x1f{version}\x1f{variant!r}\x1f{text}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(material, digest_size=16).digest()


class EmbeddingCache(Protocol):
    def get_many(self, keys: Sequence[bytes]) -> list[Cached | None]: ...

    def put_many(self, items: Sequence[tuple[bytes, Cached]]) -> None: ...


class LocalCache:
    """An LRU of CACHE_SIZE entries in this worker."""

    def __init__(self, size: int):
        self._entries: LRUCache = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[bytes]) -> list[Cached | None]:
        with self._lock:
            return [self._entries.get(key) for key in keys]

    def put_many(self, items: Sequence[tuple[bytes, Cached]]) -> None:
        with self._lock:
            for key, value in items:
                self._entries[key] = value


class RedisCache:
    """Entries in Redis (CACHE_URL) for CACHE_TTL_SECONDS, shared by everyone."""

    PREFIX = b"emb:"
    RETRY_S = 1.0

    def __init__(self, url: str, ttl_s: int, timeout_s: float = 0.25):
        import redis

        self._errors = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_s,
                                            socket_connect_timeout=timeout_s)
        self._ttl = ttl_s or None
        self._down_until = 0.0
        self._down = False

    def get_many(self, keys: Sequence[bytes]) -> list[Cached | None]:
        if not keys or not self._available():
            return [None] * len(keys)
        try:
            values = self._client.mget([self.PREFIX + key for key in keys])
        except self._errors as error:
            self._failed(error)
            return [None] * len(keys)
        self._recovered()
        # The client is made without decode_responses: values are bytes.
        return [Cached.from_bytes(cast(bytes, value)) if value else None for value in values]

    def put_many(self, items: Sequence[tuple[bytes, Cached]]) -> None:
        if not items or not self._available():
            return
        try:
            pipeline = self._client.pipeline(transaction=False)
            for key, value in items:
                pipeline.set(self.PREFIX + key, value.to_bytes(), ex=self._ttl)
            pipeline.execute()
        except self._errors as error:
            self._failed(error)
            return
        self._recovered()

    def _available(self) -> bool:
        # While Redis is down, each request would otherwise wait out a timeout.
        return not self._down or time.monotonic() >= self._down_until

    def _failed(self, error: BaseException) -> None:
        CACHE_ERRORS.inc()
        if not self._down:
            log.error("the Redis cache is unavailable (%s); serving uncached, "
                      "retrying every %.0f s", error, self.RETRY_S)
        self._down = True
        self._down_until = time.monotonic() + self.RETRY_S

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("the Redis cache is back; caching resumes")


def make_cache(url: str, size: int, ttl_s: int) -> EmbeddingCache | None:
    """Redis when CACHE_URL is set, else an LRU of CACHE_SIZE entries, else none."""
    if url:
        return RedisCache(url, ttl_s)
    if size:
        return LocalCache(size)
    return None
