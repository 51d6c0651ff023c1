"""The micro-batcher's scheduling, with a plain function as the model."""
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from prometheus_client import REGISTRY

from embedding_server.observability.metrics import ModelMetrics
from embedding_server.serving import batching
from embedding_server.serving.batching import MicroBatcher
from embedding_server.serving.direct import DirectRunner
from embedding_server.serving.scheduling import BatchPolicy
from embedding_server.serving.errors import InferenceFailed, QueueFull, RequestTimedOut


def rejections(model: str) -> float | None:
    return REGISTRY.get_sample_value("embedding_queue_rejections_total", {"model": model})


class Recorder:
    """A 'model' whose vector for a row is [first id, row length, key marker]."""

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.batches: list[list[list[int]]] = []
        self.threads: list[threading.Thread] = []
        self.delay, self.fail = delay, fail
        self.started = threading.Event()
        #: When set to an Event, runs wait for it: a run held open for as
        #: long as a test needs, with no timing to guess.
        self.gate: threading.Event | None = None

    def __call__(self, rows, key):
        self.started.set()
        self.batches.append([list(row) for row in rows])
        self.threads.append(threading.current_thread())
        gate = self.gate
        if gate is not None:
            assert gate.wait(10), "the test never opened the gate"
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("model exploded")
        marker = 0 if key is None else dict(key)["p"]
        return np.array([[row[0] if row else -1, len(row), marker] for row in rows],
                        dtype=np.float32)


def in_background(batcher, rows):
    """Submit from a thread whose outcome (result or error) is kept, not raised."""
    outcome = []

    def submit():
        try:
            outcome.append(batcher.submit(rows))
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=submit)
    thread.start()
    return thread, outcome


def run_concurrently(batcher, jobs):
    results, errors = [None] * len(jobs), [None] * len(jobs)

    def submit(i, rows, key):
        try:
            results[i] = batcher.submit(rows, key).vectors
        except Exception as error:
            errors[i] = error

    threads = [threading.Thread(target=submit, args=(i, *job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results, errors


def test_concurrent_requests_share_a_run_and_get_exactly_their_rows():
    model = Recorder()
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=64, timeout_s=0.2))
    jobs = [([[i, 1], [i + 100]], None) for i in range(10)]
    results, errors = run_concurrently(batcher, jobs)
    assert errors == [None] * 10
    for i, vectors in enumerate(results):
        assert vectors.tolist() == [[i, 2, 0], [i + 100, 1, 0]]
    assert len(model.batches) < 10  # coalesced
    assert sum(len(batch) for batch in model.batches) == 20
    batcher.close()


def test_a_batch_never_exceeds_max_size_and_a_large_request_runs_alone():
    model = Recorder(delay=0.05)
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=4, timeout_s=0.05))
    jobs = [([[i]] * 3, None) for i in range(4)] + [([[9]] * 7, None)]
    results, errors = run_concurrently(batcher, jobs)
    assert errors == [None] * 5
    assert results[4].shape == (7, 3)
    assert all(len(batch) <= 4 or len(batch) == 7 for batch in model.batches)
    batcher.close()


def test_only_requests_with_the_same_key_share_a_batch():
    model = Recorder()
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=64, timeout_s=0.2))
    jobs = [([[i]], (("p", i % 2),)) for i in range(8)]
    results, errors = run_concurrently(batcher, jobs)
    assert errors == [None] * 8
    for i, vectors in enumerate(results):
        assert vectors.tolist() == [[i, 1, i % 2]]
    for batch in model.batches:
        assert len({row[0] % 2 for row in batch}) == 1
    batcher.close()


def test_timeout_zero_runs_a_lone_request_without_waiting_for_company():
    # max_size 64 and no other request: only timeout_s=0 lets it run.
    batcher = MicroBatcher("m", Recorder(), BatchPolicy(max_size=64, timeout_s=0.0,
                                                        request_timeout_s=30))
    result = batcher.submit([[5]])
    assert result.vectors.tolist() == [[5, 1, 0]] and result.batch_size == 1
    batcher.close()


def test_a_full_queue_is_refused_at_once():
    model = Recorder()
    model.gate = threading.Event()
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=1, max_queue=1),
                           ModelMetrics("full-batcher", ()))
    first, _ = in_background(batcher, [[1]])
    assert model.started.wait(5)  # the first request is running, not queued
    second, _ = in_background(batcher, [[2]])
    deadline = time.monotonic() + 5
    while batcher.depth() < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(QueueFull, match="MAX_QUEUE"):
        batcher.submit([[3]])
    # Refused while the model is still held: it waited for no run.
    assert len(model.batches) == 1 and batcher.depth() == 1
    assert rejections("full-batcher") == 1
    model.gate.set()
    first.join()
    second.join()
    batcher.close()


def test_a_request_never_waits_past_its_timeout():
    model = Recorder()
    model.gate = threading.Event()
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=1, request_timeout_s=0.2))
    blocker, outcome = in_background(batcher, [[1]])
    assert model.started.wait(5)
    with pytest.raises(RequestTimedOut, match="REQUEST_TIMEOUT_MS"):
        batcher.submit([[2]])
    # The model is still held: only the timeout could have ended the wait.
    assert len(model.batches) == 1
    blocker.join()
    model.gate.set()
    assert isinstance(outcome[0], RequestTimedOut)  # a run past the timeout, too
    time.sleep(0.1)
    # The abandoned request was dropped, not run after its client left.
    assert [batch for batch in model.batches if batch == [[2]]] == []
    batcher.close()


def test_an_error_reaches_every_waiting_request():
    batcher = MicroBatcher("m", Recorder(fail=True), BatchPolicy(timeout_s=0.2))
    results, errors = run_concurrently(batcher, [([[i]], None) for i in range(5)])
    assert all(isinstance(error, InferenceFailed) for error in errors)
    assert all("model exploded" in str(error) for error in errors)
    assert len({id(error) for error in errors}) == 5  # one exception per thread
    batcher.close()


def test_close_runs_what_is_queued_then_refuses():
    batcher = MicroBatcher("m", Recorder(), BatchPolicy())
    assert batcher.submit([[1]]).vectors.tolist() == [[1, 1, 0]]
    batcher.close()
    with pytest.raises(Exception, match="shutting down"):
        batcher.submit([[1]])


def test_direct_runner_bounds_concurrency_and_wraps_errors():
    model = Recorder(delay=0.3)
    runner = DirectRunner("m", model, BatchPolicy(enabled=False, max_queue=1),
                          ModelMetrics("full-direct", ()))
    thread, _ = in_background(runner, [[1]])
    assert model.started.wait(5)
    with pytest.raises(QueueFull):
        runner.submit([[2]])
    assert rejections("full-direct") == 1
    thread.join()
    assert runner.depth() == 0
    assert runner.submit([[4]]).vectors.tolist() == [[4, 1, 0]]
    with pytest.raises(InferenceFailed):
        DirectRunner("m", Recorder(fail=True), BatchPolicy()).submit([[1]])


def test_a_model_returning_the_wrong_number_of_rows_fails_the_batch_not_the_batcher():
    calls = []

    def short_model(rows, key):
        calls.append(len(rows))
        return np.zeros((1 if len(calls) == 1 else len(rows), 3), dtype=np.float32)

    batcher = MicroBatcher("m", short_model, BatchPolicy())
    with pytest.raises(InferenceFailed, match="returned 1 rows for 2 texts"):
        batcher.submit([[1], [2]])
    assert batcher.submit([[1], [2]]).vectors.shape == (2, 3)  # still serving
    batcher.close()


def test_a_full_batch_runs_in_the_request_thread_once_full_runs_are_quick():
    model = Recorder()
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=4))
    full = [[1], [2], [3], [4]]
    # The first full run goes through the batcher's thread: nothing is known
    # yet of how long one takes.
    assert batcher.submit(full).vectors[:, 0].tolist() == [1, 2, 3, 4]
    assert model.threads[-1] is not threading.current_thread()
    second = batcher.submit(full)
    assert model.threads[-1] is threading.current_thread()
    assert second.vectors[:, 0].tolist() == [1, 2, 3, 4]
    assert second.batch_size == 4 and second.queued_s == 0.0
    # Fewer rows than a batch still wait for company in the batcher's thread.
    batcher.submit([[5]])
    assert model.threads[-1] is not threading.current_thread()
    batcher.close()


def test_a_slow_model_never_runs_in_the_request_thread(monkeypatch):
    monkeypatch.setattr(batching, "INLINE_RUN_LIMIT_S", 0.01)
    model = Recorder(delay=0.02)
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=2))
    for _ in range(3):
        batcher.submit([[1], [2]])
    assert threading.current_thread() not in model.threads
    batcher.close()


def test_a_full_batch_does_not_wait_for_the_batch_the_model_is_running():
    model = Recorder()
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=2))
    batcher.submit([[1], [2]])  # a quick full run: later ones may run inline
    gate = model.gate = threading.Event()
    model.started.clear()
    busy, outcome = in_background(batcher, [[3]])
    assert model.started.wait(5)
    model.gate = None
    assert batcher.submit([[4], [5]]).vectors[:, 0].tolist() == [4, 5]
    # It ran beside the held run, in this thread, instead of queueing behind it.
    assert not gate.is_set() and busy.is_alive()
    assert model.threads[-1] is threading.current_thread()
    gate.set()
    busy.join()
    assert outcome[0].vectors.tolist() == [[3, 1, 0]]
    batcher.close()


def test_an_error_in_a_request_thread_run_fails_that_request_only():
    model = Recorder()
    batcher = MicroBatcher("m", model, BatchPolicy(max_size=2))
    batcher.submit([[1], [2]])
    model.fail = True
    with pytest.raises(InferenceFailed, match="model exploded"):
        batcher.submit([[1], [2]])
    assert model.threads[-1] is threading.current_thread()
    model.fail = False
    # Still serving, and still in the request's thread.
    assert batcher.submit([[3], [4]]).vectors[:, 0].tolist() == [3, 4]
    assert model.threads[-1] is threading.current_thread()
    assert batcher.submit([[5]]).vectors.tolist() == [[5, 1, 0]]
    batcher.close()
    with pytest.raises(Exception, match="shutting down"):
        batcher.submit([[1], [2]])


# Under gevent (the served worker class) the batcher is a greenlet; gevent's
# patching is process-wide, so these scenarios run in a child interpreter.
_GEVENT_SCENARIO = """
from gevent import monkey; monkey.patch_all()
import sys, time, gevent, numpy as np
from embedding_server.serving import batching
if sys.argv[1] == "no-settle":
    batching.loop_settle = lambda: batching._no_wait
sizes = []
def run_rows(rows, key):
    sizes.append(len(rows))
    return np.zeros((len(rows), 2), np.float32)
batcher = batching.MicroBatcher("m", run_rows, batching.BatchPolicy(request_timeout_s=2))
def client(i):
    for _ in range(i):  # each arrives one loop turn after the one before
        gevent.sleep(0)
    batcher.submit([[i]])
gevent.joinall([gevent.spawn(client, i) for i in range(8)], raise_error=True)
print(sizes)
if sys.argv[1] == "no-settle":  # the bounded wait below is the settling batcher's
    sys.exit(0)
busy = True
def spinner():  # keeps the loop from ever being idle
    while busy:
        gevent.sleep(0)
gevent.spawn(spinner)
# A wait for an idle loop with no bound would end only in RequestTimedOut (2 s).
batcher.submit([[1]])
busy = False
print("served")
"""


def _gevent_scenario(mode: str) -> tuple[list[int], str]:
    done = subprocess.run([sys.executable, "-c", _GEVENT_SCENARIO, mode],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    sizes, outcome = done.stdout.split("\n")[:2]
    return [int(size) for size in sizes.strip("[]").split(",")], outcome


def test_under_gevent_a_batch_waits_for_the_loop_to_settle_but_not_for_ever():
    sizes, outcome = _gevent_scenario("settle")
    # Every request that was runnable when the model fell free is in the batch...
    assert sizes == [8]
    # ...and a loop that never idles delays a batch by SETTLE_LIMIT_S (2 ms),
    # not until the request times out (2 s): the request is served.
    assert outcome == "served"


def test_without_settling_the_first_arrivals_run_alone():
    # The behaviour loop_settle exists to change: it is what the test above
    # would see if the batcher did not wait.
    sizes, _ = _gevent_scenario("no-settle")
    assert len(sizes) > 1 and sum(sizes) == 8


_GEVENT_INLINE = """
from gevent import monkey; monkey.patch_all()
import numpy as np
from embedding_server.serving import batching
native_ident = monkey.get_original("_thread", "get_ident")
loop_thread, ran_on = native_ident(), []
def run_rows(rows, key):
    ran_on.append("loop" if native_ident() == loop_thread else "pool")
    return np.zeros((len(rows), 2), np.float32)
batcher = batching.MicroBatcher("m", run_rows, batching.BatchPolicy(max_size=4))
for rows in ([[1]] * 4, [[1]] * 4, [[1]]):
    batcher.submit(rows)
print(ran_on)
"""


def test_under_gevent_a_quick_full_batch_runs_on_the_loop_and_a_lone_text_on_the_pool():
    done = subprocess.run([sys.executable, "-c", _GEVENT_INLINE],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    # The first full run is handed to a native thread (no timing known yet);
    # the next runs on the loop; a lone text waits for company on the pool.
    assert done.stdout.strip() == "['pool', 'loop', 'pool']"
