"""Production serving: gunicorn running the app factory in each worker.

Models are loaded in every worker after the fork (TensorFlow sessions and
the batching threads must not cross a fork), and the master never imports
TensorFlow. The default worker class is gevent's pywsgi with this
package's handler (`worker/`): one greenlet per connection (about half the
CPU per request of the sync worker and a third of gthread's, and one worker
holds many requests at once, which is what micro-batching needs), each
request read as strictly as gunicorn's parser reads it, within deadlines.
gunicorn's own gevent worker parses as strictly but served a cheap request
at 0.40x the throughput, 2.5 times the CPU (docs/performance.md).
"""
from __future__ import annotations

import glob
import math
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from ..settings import Settings
from ..serving.hooks import ProcessHooks
from .heap import release_memory, settle_heap
from .signals import ARBITER_PID_ENV, notify_siblings, on_sighup

if TYPE_CHECKING:  # imports gevent: the master imports it only for its worker class
    from .handler import HttpPolicy

#: prometheus-client's multiprocess directory (named here, not imported: the
#: master must not import prometheus_client before it is set).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

WORKER_CLASSES = ("gevent_pywsgi", "gevent", "gthread", "sync")
COOPERATIVE = ("gevent_pywsgi", "gevent")


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    threads: int
    timeout: int
    worker_class: str = "gevent_pywsgi"


def default_workers() -> int:
    """One worker per usable core: TensorFlow computes outside the GIL, and a
    second process per core would only fight for it."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gunicorn_settings(options: ServeOptions, config: Settings) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "bind": f"{options.host}:{options.port}",
        "workers": options.workers,
        "worker_class": options.worker_class,
        "threads": options.threads,
        "worker_connections": config.WORKER_CONNECTIONS,
        "timeout": options.timeout,
        "graceful_timeout": options.timeout,
        # gunicorn's own idle timeout (gevent, gthread; sync keeps no
        # connection open); the pywsgi handler keeps KEEPALIVE_TIMEOUT itself.
        "keepalive": max(1, math.ceil(config.KEEPALIVE_TIMEOUT)),
        # For the other worker classes: gunicorn's own parser, never the
        # gunicorn_h1c C parser "auto" takes wherever it happens to be installed.
        "http_parser": "python",
        "limit_request_line": config.LIMIT_REQUEST_LINE,
        "limit_request_fields": config.LIMIT_REQUEST_FIELDS,
        "limit_request_field_size": config.LIMIT_REQUEST_FIELD_SIZE,
        "backlog": 2048,
        # gunicorn 25+ opens a control socket in $HOME; nothing here uses it.
        "control_socket_disable": True,
        "preload_app": False,
        "proc_name": "embedding-server",
        # Our request log (logger embedding_server.access) is the access log.
        "accesslog": None,
        "errorlog": "-",
    }
    if os.path.isdir("/dev/shm"):
        # The worker heartbeat file is touched constantly; keep it off disk.
        settings["worker_tmp_dir"] = "/dev/shm"
    return settings


class _YieldWhenDone:
    """A response body that lets other connections run once it has been sent."""

    def __init__(self, body: Iterable[bytes], switch: Callable[[], None]):
        self._body = body
        self._switch = switch

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._switch()


def yield_to_sockets() -> None:
    """Let every greenlet whose socket is ready run before this one goes on.

    Not `gevent.sleep(0)`: that queues the greenlet as a loop callback, and
    gevent runs callbacks queued while it runs them in the same pass (it
    looks at the clock only every 50 callbacks), so connections whose next
    request had arrived cycled among themselves while those waiting on their
    sockets waited for the pass to end (answers that never block, as cache
    hits, made the tail long). A timer fires only after the loop has polled
    the sockets again.
    """
    import gevent

    gevent.sleep(_AFTER_NEXT_POLL_S)


#: Any positive delay makes `gevent.sleep` a timer, run after the next poll.
_AFTER_NEXT_POLL_S = 1e-6


def cooperative(app: Callable) -> Callable:
    """Yield to other connections after each response is sent.

    gevent switches only when a greenlet blocks; a keep-alive connection
    whose next request is already waiting can be served again and again
    while others wait. One switch per request, once its response is written
    (the server calls close() then), keeps the tail latency of a worker's
    connections even.
    """
    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        return _YieldWhenDone(app(environ, start_response), yield_to_sockets)

    return wsgi


class ModelReloadArbiter(Arbiter):
    """gunicorn's master, except that SIGHUP has every worker look for new
    model versions (each swaps in place, serving throughout) instead of
    replacing all workers, which would reload every model from scratch."""

    def handle_hup(self) -> None:
        self.log.info("SIGHUP: workers look for new model versions")
        for pid in list(self.WORKERS):
            self.kill_worker(pid, signal.SIGHUP)


def _pre_fork(server: Any, worker: Any) -> None:
    """In the master: a balanced worker's slot in the connection table."""
    claim = getattr(worker, "claim_slot", None)
    if claim is not None:
        claim(server.WORKERS.values())


def _child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges and free its connection slot. Only
    prometheus-client's helper is imported here: our metrics module would
    create values in the master."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    release = getattr(worker, "release_slot", None)
    if release is not None:
        release()


class GunicornServer(BaseApplication):
    def __init__(self, config: Settings, options: ServeOptions):
        self._config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_settings(self._options, self._config).items():
            self.cfg.set(key, value)
        self.cfg.set("child_exit", _child_exit)
        if self._options.worker_class == "gevent_pywsgi":
            # Imports gevent: not for the other classes.
            from .accept import balanced_worker_class

            self.cfg.set("worker_class", balanced_worker_class(
                self._options.workers, http_policy(self._config)))
            self.cfg.set("pre_fork", _pre_fork)

    def load(self) -> Callable:
        from ..app import create_app  # in the worker, after the fork

        # gunicorn leaves SIGHUP deadly in a worker. One that arrives while the
        # models load is kept and acted on once they have: the load may have
        # read the disk before the new version was there.
        asked: list[int] = []
        signal.signal(signal.SIGHUP, lambda signum, frame: asked.append(signum))
        app = create_app(self._config, ProcessHooks(release_memory=release_memory,
                                                    notify_siblings=notify_siblings))
        watcher = app.extensions["watcher"]
        on_sighup(watcher.trigger)
        if asked:
            watcher.trigger()
        settle_heap()
        if self._options.worker_class in COOPERATIVE:
            return cooperative(app)
        return app

    def run(self) -> None:
        try:
            ModelReloadArbiter(self).run()
        except RuntimeError as error:  # gunicorn's own start-up errors
            print(f"\nError: {error}\n", file=sys.stderr)
            sys.exit(1)


def http_policy(config: Settings) -> HttpPolicy:
    """The pywsgi handler's limits and deadlines, from the settings."""
    from .handler import HttpPolicy  # imports gevent: only for its worker
    from .request_headers import HeadLimits

    return HttpPolicy(
        request_line=config.LIMIT_REQUEST_LINE,
        head=HeadLimits(fields=config.LIMIT_REQUEST_FIELDS,
                        field_size=config.LIMIT_REQUEST_FIELD_SIZE),
        idle_s=config.KEEPALIVE_TIMEOUT, head_s=config.HEADER_TIMEOUT,
        body_s=config.BODY_TIMEOUT)


def apply_serving_defaults(config: Settings, options: ServeOptions) -> Settings:
    """The settings, with what follows from how many workers share the cores, and how."""
    if not config.TF_THREADS:
        config = replace(config, TF_THREADS=max(1, default_workers() // options.workers))
    if options.worker_class == "sync":
        # One request at a time per worker: there is nothing to coalesce, and
        # the batching thread's hand-offs would only cost.
        config = replace(config, BATCHING=False)
    return config


def prepare_metrics_dir() -> str | None:
    """Give the workers a directory for prometheus-client's multiprocess mode.

    It must be in the environment before any process imports
    prometheus_client, and must not hold a previous run's values. Returns
    the directory when it was created here (to be removed at exit).
    """
    path = os.environ.get(METRICS_DIR_ENV)
    if not path:
        path = tempfile.mkdtemp(prefix="embedding-server-metrics-")
        os.environ[METRICS_DIR_ENV] = path
        return path
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    return None


def serve(config: Settings, options: ServeOptions,
          application: Callable[[Settings, ServeOptions], GunicornServer] = GunicornServer,
          ) -> None:
    """Run gunicorn until it is stopped (SIGTERM: graceful shutdown).

    `application` builds what each worker serves; the benchmark's reference
    servers (scripts/floor_server.py) pass their own, to be served exactly so.
    """
    config = apply_serving_defaults(config, options)
    created = prepare_metrics_dir()
    master = os.getpid()
    os.environ[ARBITER_PID_ENV] = str(master)
    try:
        application(config, options).run()
    finally:
        # Workers are forked inside run() and leave through this frame too;
        # only the master may remove what every worker writes to.
        if created and os.getpid() == master:
            shutil.rmtree(created, ignore_errors=True)
