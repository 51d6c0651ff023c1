"""Dynamic micro-batching: texts of concurrent requests share one model run.

A model run costs nearly the same for one text as for dozens, so under
concurrency the rows of waiting requests are padded into one batch. One
thread per model runs the batches; request threads enqueue their rows and
wait. The queue is bounded (backpressure: a full queue is refused at once)
and so is each wait (a request never hangs past its timeout). A request
that fills a batch by itself runs it in its own thread when such runs are
quick (`INLINE_RUN_LIMIT_S`).
"""
from __future__ import annotations

import collections
import itertools
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from ..observability.metrics import ModelMetrics
from .errors import ModelNotAvailable, RequestTimedOut
from .scheduling import (
    BatchPolicy, BatchResult, RunRows, under_gevent, direct_call, failed, measured_run,
    native_thread_call, queue_full)


@dataclass(eq=False)
class _Job:
    rows: Sequence[Sequence[int]]
    key: Hashable
    enqueued: float
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None
    abandoned: bool = False
    queued_s: float = 0.0
    inference_s: float = 0.0
    batch_size: int = 0
    batch: int = 0


#: The longest a batch waits for the event loop to settle (see `loop_settle`).
SETTLE_LIMIT_S = 0.002


#: The longest full batch a request may run in its own thread (see `MicroBatcher.submit`).
INLINE_RUN_LIMIT_S = 0.002


def loop_settle() -> Callable[[], None]:
    """How the batcher lets requests that have already arrived join a batch.

    Under gevent, when the model falls free the worker's loop has often read
    only one or two of the requests whose bytes are waiting on its sockets;
    a batch taken then is small, and the rest wait for the next model run.
    Waiting until the loop is idle (every ready request parsed and queued)
    makes batches larger, and each request cheaper. The wait is bounded: a
    loop that never idles (constant arrivals) delays a batch by
    SETTLE_LIMIT_S at most.
    With threads, requests queue themselves as they come: nothing to wait for.
    """
    if not under_gevent():
        return _no_wait
    from gevent import Timeout, idle

    def settle() -> None:
        with Timeout(SETTLE_LIMIT_S, False):
            idle()

    return settle


def _no_wait() -> None:
    return None


class MicroBatcher:
    """Coalesces the rows of concurrent requests into batched model runs.

    A batch runs when `max_size` rows are waiting or when its first request
    has waited `timeout_s`, whichever comes first; while the model is busy,
    rows pile up and the next batch takes them all. Only requests with the same
    key (e.g. the same dropout parameters) share a batch.
    """

    def __init__(self, name: str, run_rows: RunRows, policy: BatchPolicy,
                 metrics: ModelMetrics | None = None):
        self.name = name
        self._run_rows = run_rows
        self._metrics = metrics
        self.max_size = policy.max_size
        self.timeout_s = policy.timeout_s
        self.max_queue = policy.max_queue
        self.request_timeout_s = policy.request_timeout_s
        self._queue: collections.deque[_Job] = collections.deque()
        self._queued_rows = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        # How long the latest runs of max_size rows or more took, in the running thread.
        self._full_runs: collections.deque[float] = collections.deque(maxlen=8)
        self._runs = itertools.count(1)

    def depth(self) -> int:
        """Requests waiting, not counting the batch being run."""
        return len(self._queue)

    def submit(self, rows: Sequence[Sequence[int]], key: Hashable = None) -> BatchResult:
        """Run `rows` in some batch; block until their vectors are ready.

        Rows that fill a batch by themselves gain nothing from waiting for
        others; when the model's full runs are quick, they run here, in the
        request's thread, beside any batch the batcher is running. Under
        gevent that spares the hand-off to a native thread and back (a
        sizeable share of a bulk request's CPU), at the price of holding the
        event loop for the run: hence
        the limit, so a slow model never stalls the worker's other
        connections. They do not wait for the model to be idle: under steady
        bulk load a run on the pool always has the next request queued behind
        it, and the worker would never leave the pool.
        """
        enqueued = time.perf_counter()
        with self._cond:
            if self._closed:
                raise ModelNotAvailable(f"model {self.name!r} is shutting down")
            if len(rows) >= self.max_size and self._full_runs_are_quick():
                job = None  # no queue entry, no event to wait on
            else:
                job = _Job(rows, key, enqueued)
                self._enqueue(job)
        if job is None:
            return self._run_alone(rows, key)
        if not job.done.wait(self.request_timeout_s):
            with self._cond:
                job.abandoned = True
            if not job.done.is_set():
                raise RequestTimedOut(
                    f"model {self.name!r} did not answer within "
                    f"{self.request_timeout_s * 1000:.0f} ms (REQUEST_TIMEOUT_MS)")
        if job.error is not None or job.result is None:
            raise failed(job.error or RuntimeError("the batch set no result"))
        return BatchResult(job.result, job.queued_s, job.inference_s, job.batch_size, job.batch)

    def _enqueue(self, job: _Job) -> None:
        """Queue a job (the lock held), or refuse it when the queue is full."""
        if len(self._queue) >= self.max_queue:
            raise queue_full(self.name, len(self._queue), self._metrics)
        if self._thread is None:
            # Started on first use, in the process that serves: a thread
            # started before gunicorn forks would not exist in the workers.
            self._thread = threading.Thread(target=self._loop, daemon=True,
                                            name=f"batcher-{self.name}")
            self._thread.start()
        self._queue.append(job)
        self._queued_rows += len(job.rows)
        self._cond.notify()

    def _full_runs_are_quick(self) -> bool:
        # The median of the latest full runs: a run slowed by the OS giving
        # its core to another process says little of the model, and a model
        # whose runs vary with the texts' length is judged by its usual run.
        return bool(self._full_runs) and statistics.median(self._full_runs) <= INLINE_RUN_LIMIT_S

    def _run_alone(self, rows: Sequence[Sequence[int]], key: Hashable) -> BatchResult:
        try:
            vectors, inference_s = self._execute(rows, key, direct_call)
        except Exception as error:
            raise failed(error) from error
        return BatchResult(vectors, 0.0, inference_s, len(rows), next(self._runs))

    def _execute(self, rows: Sequence[Sequence[int]], key: Hashable,
                 call: Callable[..., Any]) -> tuple[np.ndarray, float]:
        """One model run: its vectors and the time it took, including any
        hand-off to another thread."""
        (vectors, own_s), inference_s = measured_run(
            call, self._timed_run, rows, key, self._metrics, lambda: len(self._queue))
        if len(rows) >= self.max_size:
            with self._cond:  # read under it by `_full_runs_are_quick`
                self._full_runs.append(own_s)
        return vectors, inference_s

    def _timed_run(self, rows: Sequence[Sequence[int]], key: Hashable) -> tuple[np.ndarray, float]:
        # Timed in the thread that runs the model: the hand-off is no part
        # of how long a run would hold a request's thread.
        started = time.perf_counter()
        vectors = self._run_rows(rows, key)
        own_s = time.perf_counter() - started
        if len(vectors) != len(rows):
            raise ValueError(f"the model returned {len(vectors)} rows for {len(rows)} texts")
        return vectors, own_s

    def close(self) -> None:
        """Stop taking requests; the queued ones are still run."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.request_timeout_s)

    def _loop(self) -> None:
        call, settle = native_thread_call(), loop_settle()
        while True:
            queued = self._wait_for_rows()
            if queued is None:
                return
            if queued < self.max_size:  # a full batch has nothing to wait for
                settle()
            batch = self._next_batch()
            if batch:
                self._run(batch, call)

    def _wait_for_rows(self) -> int | None:
        """The rows queued, once there are any; None once closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            return self._queued_rows

    def _next_batch(self) -> list[_Job]:
        """The batch to run, from a non-empty queue (only this thread takes
        from it), after waiting up to `timeout_s` for it to fill."""
        with self._cond:
            deadline = self._queue[0].enqueued + self.timeout_s
            while not self._closed and self._queued_rows < self.max_size:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._take()

    def _take(self) -> list[_Job]:
        """The oldest job, then later jobs of its key while the batch has room.

        A job larger than `max_size` runs alone rather than being split.
        """
        first = self._queue.popleft()
        batch, size, skipped = [first], len(first.rows), []
        while self._queue and size < self.max_size:
            job = self._queue.popleft()
            if job.key != first.key or size + len(job.rows) > self.max_size:
                skipped.append(job)
                if size + len(job.rows) > self.max_size:
                    break
                continue
            batch.append(job)
            size += len(job.rows)
        self._queue.extendleft(reversed(skipped))
        self._queued_rows -= size
        return [job for job in batch if not job.abandoned]

    def _run(self, batch: list[_Job], call: Callable[..., Any] = direct_call) -> None:
        """Run a batch taken by `_next_batch` and hand each job its rows."""
        started = time.perf_counter()
        rows = [row for job in batch for row in job.rows]
        try:
            vectors, inference_s = self._execute(rows, batch[0].key, call)
        except Exception as error:  # every waiting request gets the error
            for job in batch:
                job.error = error
                job.done.set()
            return
        offset, number = 0, next(self._runs)
        for job in batch:
            job.result = vectors[offset:offset + len(job.rows)]
            job.queued_s = started - job.enqueued
            job.inference_s = inference_s
            job.batch_size = len(rows)
            job.batch = number
            offset += len(job.rows)
            job.done.set()
