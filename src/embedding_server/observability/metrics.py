"""Prometheus metrics, correct with one process or with many gunicorn workers.

Under `serve`, PROMETHEUS_MULTIPROC_DIR is set before any worker starts, so
prometheus-client writes every value to per-process files there and
`/metrics` merges them (its multiprocess mode); a worker that exits is marked
dead so its live gauges vanish. With one process (`run`, tests) values live
in memory. The metric objects are process-wide, as prometheus-client wants.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
    generate_latest)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0)
_INFERENCE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                      0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

REQUESTS = Counter("embedding_http_requests_total", "HTTP requests answered",
                   ["endpoint", "method", "status"])
REQUEST_LATENCY = Histogram("embedding_http_request_duration_seconds",
                            "Time from request to response, by endpoint", ["endpoint"],
                            buckets=_LATENCY_BUCKETS)
INFERENCE_LATENCY = Histogram("embedding_inference_duration_seconds",
                              "Duration of one model run (one batch)", ["model"],
                              buckets=_INFERENCE_BUCKETS)
BATCH_SIZE = Histogram("embedding_batch_size", "Texts in one model run", ["model"],
                       buckets=_BATCH_BUCKETS)
QUEUE_DEPTH = Gauge("embedding_queue_depth",
                    "Requests left waiting when the last batch started, summed over workers",
                    ["model"], multiprocess_mode="livesum")
# Summed, not maxed: during a rollout "1 worker on version 1, 1 on version 2"
# is what an operator needs to see, and a max would hide the straggler.
MODEL_STATE = Gauge("embedding_model_state",
                    "Live workers that have this version of the model in this state",
                    ["model", "version", "state"], multiprocess_mode="livesum")
EMBEDDINGS = Counter("embedding_embeddings_total", "Embeddings computed", ["model"])
TOKENS = Counter("embedding_tokens_total", "Word tokens in embedded texts", ["model"])
OOV_TOKENS = Counter("embedding_oov_tokens_total",
                     "Word tokens not in the model's vocabulary (OOV rate = this / tokens)",
                     ["model"])
LOAD_FAILURES = Counter("embedding_model_load_failures_total",
                        "Model versions that failed to validate, load or warm up", ["model"])
INFERENCE_ERRORS = Counter("embedding_inference_errors_total",
                           "Model runs that raised", ["model"])
SWAPS = Counter("embedding_model_swaps_total",
                "Times a new version replaced the served one", ["model"])
CACHE_LOOKUPS = Counter("embedding_cache_lookups_total",
                        "Texts looked up in the embedding cache, by result", ["model", "result"])
REFUSED = Counter("embedding_http_refused_total",
                  "Requests refused before the application (malformed, too large), by status",
                  ["status"])
QUEUE_REJECTIONS = Counter("embedding_queue_rejections_total",
                           "Requests refused (429) because the model's queue was full (MAX_QUEUE)",
                           ["model"])
CACHE_ERRORS = Counter("embedding_cache_errors_total",
                       "Redis cache operations that failed (requests went on uncached)")


class ModelMetrics:
    """One model's metric children, bound once so the hot path skips label
    lookups, and created at once so every series exists (at 0) from start-up."""

    def __init__(self, model: str, states: Iterable[str]):
        self.model = model
        #: Every state a version can be in: the one it is in is 1, the others 0.
        self.states = tuple(states)
        self._inference = INFERENCE_LATENCY.labels(model)
        self._batch = BATCH_SIZE.labels(model)
        self._queue = QUEUE_DEPTH.labels(model)
        self._embeddings = EMBEDDINGS.labels(model)
        self._tokens = TOKENS.labels(model)
        self._oov = OOV_TOKENS.labels(model)
        self._errors = INFERENCE_ERRORS.labels(model)
        self._load_failures = LOAD_FAILURES.labels(model)
        self._swaps = SWAPS.labels(model)
        self._hits = CACHE_LOOKUPS.labels(model, "hit")
        self._misses = CACHE_LOOKUPS.labels(model, "miss")
        self._rejections = QUEUE_REJECTIONS.labels(model)

    def batch_ran(self, texts: int, seconds: float, waiting: int) -> None:
        self._inference.observe(seconds)
        self._batch.observe(texts)
        self._queue.set(waiting)

    def queue_rejected(self) -> None:
        self._rejections.inc()

    def batch_failed(self) -> None:
        self._errors.inc()

    def embedded(self, texts: int, tokens: int, oov: int) -> None:
        self._embeddings.inc(texts)
        self._tokens.inc(tokens)
        if oov:
            self._oov.inc(oov)

    def cache_looked_up(self, hits: int, misses: int) -> None:
        if hits:
            self._hits.inc(hits)
        if misses:
            self._misses.inc(misses)

    def version_state(self, version: int, state: str) -> None:
        for name in self.states:
            MODEL_STATE.labels(self.model, str(version), name).set(1 if name == state else 0)

    def load_failed(self) -> None:
        self._load_failures.inc()

    def swapped(self) -> None:
        self._swaps.inc()


#: Request methods counted by name; any other is counted as "other", so a
#: client cannot add series by sending made-up methods.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                     "TRACE", "PATCH"})

#: Children by label values: `labels()` costs ~8 us a call, a dict lookup nothing.
_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    if method not in METHODS:
        method = "other"
    key = (endpoint, method, status)
    children = _REQUEST_CHILDREN.get(key)
    if children is None:
        children = (REQUESTS.labels(endpoint, method, str(status)),
                    REQUEST_LATENCY.labels(endpoint))
        _REQUEST_CHILDREN[key] = children
    children[0].inc()
    children[1].observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render() -> tuple[bytes, str]:
    """The exposition text: every worker's values merged under `serve`."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
