"""BATCHING=false: each request runs alone, within the same bounds."""
from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Hashable, Sequence

from ..observability.metrics import ModelMetrics
from .scheduling import (
    BatchPolicy, BatchResult, RunRows, failed, measured_run, native_thread_call, queue_full)


class DirectRunner:
    """BATCHING=false: each request runs alone.

    The same bound on waiting requests applies, so turning batching off never
    turns backpressure off; under gevent the run still leaves the event loop
    free, so one request's inference never stalls the others' I/O.
    """

    def __init__(self, name: str, run_rows: RunRows, policy: BatchPolicy,
                 metrics: ModelMetrics | None = None):
        self.name = name
        self._run_rows = run_rows
        self._metrics = metrics
        self.max_queue = policy.max_queue
        self._in_flight = 0
        self._lock = threading.Lock()
        self._call: Callable[..., Any] | None = None
        self._runs = itertools.count(1)

    def depth(self) -> int:
        return self._in_flight

    def submit(self, rows: Sequence[Sequence[int]], key: Hashable = None) -> BatchResult:
        with self._lock:
            if self._in_flight >= self.max_queue:
                raise queue_full(self.name, self._in_flight, self._metrics)
            self._in_flight += 1
        if self._call is None:
            self._call = native_thread_call()  # in the serving process, after any fork
        try:
            vectors, inference_s = measured_run(self._call, self._run_rows, rows, key,
                                                self._metrics, lambda: self._in_flight - 1)
        except Exception as error:
            raise failed(error) from error
        else:
            return BatchResult(vectors, 0.0, inference_s, len(rows), next(self._runs))
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        pass
