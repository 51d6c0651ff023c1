"""How a model's requests reach its runs: the scheduler protocol, the
policy that bounds every scheduler, and what they share.

Two schedulers implement `Scheduler`: `batching.MicroBatcher` (BATCHING=true:
concurrent requests share a model run) and `direct.DirectRunner` (each
request runs alone). Both bound the requests waiting (MAX_QUEUE: more is a
fast 429) and each wait (REQUEST_TIMEOUT_MS), and hand TensorFlow's runs to
native threads under gevent, so a new scheduler is one new module.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Protocol, Sequence

import numpy as np

from ..observability.metrics import ModelMetrics
from ..settings import Settings
from .errors import InferenceFailed, QueueFull

#: Runs rows of token ids with the parameters of a batch key; returns vectors.
RunRows = Callable[[Sequence[Sequence[int]], Hashable], np.ndarray]


@dataclass(frozen=True)
class BatchResult:
    """A request's vectors, with the time it waited, its batch's run time,
    how many texts that batch held and its number among the scheduler's runs
    (requests that share a batch share the number: tracing shows it)."""
    vectors: np.ndarray
    queued_s: float
    inference_s: float
    batch_size: int
    batch: int = 0


@dataclass(frozen=True)
class BatchPolicy:
    """How a model's requests are scheduled (from BATCHING, BATCH_*, MAX_QUEUE...)."""
    enabled: bool = True
    max_size: int = 64
    timeout_s: float = 0.0
    max_queue: int = 256
    request_timeout_s: float = 10.0
    #: Most padded token ids in one model run (0: no bound); see `padding.plan_runs`.
    max_tokens: int = 65536

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchPolicy:
        return cls(enabled=settings.BATCHING, max_size=settings.BATCH_MAX_SIZE,
                   timeout_s=settings.BATCH_TIMEOUT_MS / 1000, max_queue=settings.MAX_QUEUE,
                   request_timeout_s=settings.REQUEST_TIMEOUT_MS / 1000,
                   max_tokens=settings.BATCH_MAX_TOKENS)


class Scheduler(Protocol):
    """Runs a request's rows through the model, within the policy's bounds."""

    def submit(self, rows: Sequence[Sequence[int]], key: Hashable = None) -> BatchResult:
        """The rows' vectors (blocking until computed); QueueFull past
        MAX_QUEUE, RequestTimedOut past REQUEST_TIMEOUT_MS, InferenceFailed
        when the run raised."""
        ...

    def depth(self) -> int:
        """Requests waiting."""
        ...

    def close(self) -> None:
        ...


def native_thread_call() -> Callable[..., Any]:
    """How to call blocking native code (a TensorFlow run) from the batcher.

    Under gevent the batcher is a greenlet, and a session run would stall
    every other request of the worker; gevent's pool of real threads keeps
    the event loop serving while TensorFlow computes. Elsewhere it is a
    plain call: TensorFlow releases the GIL by itself.
    """
    if not under_gevent():
        return direct_call
    from gevent import get_hub

    pool = get_hub().threadpool
    return lambda function, *args: pool.apply(function, args)


def under_gevent() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def direct_call(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


def queue_full(name: str, waiting: int, metrics: ModelMetrics | None) -> QueueFull:
    if metrics:
        metrics.queue_rejected()
    return QueueFull(f"model {name!r} has {waiting} requests waiting (MAX_QUEUE); "
                     "retry shortly")


def measured_run(call: Callable[..., Any], run: Callable[..., Any],
                 rows: Sequence[Sequence[int]], key: Hashable, metrics: ModelMetrics | None,
                 depth: Callable[[], int]) -> tuple[Any, float]:
    """`call(run, rows, key)`, its result and how long it took, any hand-off
    to another thread included; counted in the model's metrics either way."""
    started = time.perf_counter()
    try:
        result = call(run, rows, key)
    except Exception:
        if metrics:
            metrics.batch_failed()
        raise
    inference_s = time.perf_counter() - started
    if metrics:
        metrics.batch_ran(len(rows), inference_s, depth())
    return result, inference_s


def failed(job_error: BaseException) -> InferenceFailed:
    # A fresh exception per request thread: one instance raised in many
    # threads would have its traceback rewritten under each of them.
    error = InferenceFailed(str(job_error))
    error.__cause__ = job_error
    return error
