"""Production serving: gunicorn running the app factory in each worker.

Models are loaded in every worker after the fork (TensorFlow sessions and
the batching threads must not cross a fork), and the master never imports
TensorFlow. The default worker class is gevent's pywsgi, chosen by
measurement (README, "Performance"): it spends about half the CPU per
request of the sync worker and a third of gthread's, and it lets one worker
hold many requests at once, which is what micro-batching needs.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from gunicorn.app.base import BaseApplication

from .config import BaseConfig

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
    connections: int = 1000


def default_workers() -> int:
    """One worker per usable core: TensorFlow computes outside the GIL, and a
    second process per core would only fight for it."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gunicorn_settings(options: ServeOptions) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "bind": f"{options.host}:{options.port}",
        "workers": options.workers,
        "worker_class": options.worker_class,
        "threads": options.threads,
        "worker_connections": options.connections,
        "timeout": options.timeout,
        "graceful_timeout": options.timeout,
        "keepalive": 5,
        "backlog": 2048,
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


def cooperative(app: Callable) -> Callable:
    """Yield to other connections after each response is sent.

    gevent switches only when a greenlet blocks; a keep-alive connection
    whose next request is already waiting can be served again and again
    while others wait. One switch per request, once its response is written
    (the server calls close() then), keeps the tail latency of a worker's
    connections even.
    """
    import gevent

    def switch() -> None:
        gevent.sleep(0)

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        return _YieldWhenDone(app(environ, start_response), switch)

    return wsgi


def settle_heap() -> None:
    """Exclude everything alive after start-up from the garbage collector.

    TensorFlow leaves ~300,000 Python objects behind, and every full
    collection walks them all: 140 ms during which the worker answers
    nobody, which was the whole p99 of a loaded worker. Frozen, they are
    never walked again; only what requests allocate is collected.
    """
    gc.collect()
    gc.freeze()


class GunicornServer(BaseApplication):
    def __init__(self, config: BaseConfig, options: ServeOptions):
        self._config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_settings(self._options).items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        from .app import create_app  # in the worker, after the fork

        app = create_app(self._config)
        settle_heap()
        if self._options.worker_class in COOPERATIVE:
            return cooperative(app)
        return app


def apply_serving_defaults(config: BaseConfig, options: ServeOptions) -> None:
    """Settings that follow from how many workers share the cores, and how."""
    if not config.TF_THREADS:
        config.TF_THREADS = max(1, default_workers() // options.workers)
    if options.worker_class == "sync":
        # One request at a time per worker: there is nothing to coalesce, and
        # the batching thread's hand-offs would only cost.
        config.BATCHING = False


def serve(config: BaseConfig, options: ServeOptions) -> None:
    """Run gunicorn until it is stopped (SIGTERM: graceful shutdown)."""
    apply_serving_defaults(config, options)
    GunicornServer(config, options).run()
