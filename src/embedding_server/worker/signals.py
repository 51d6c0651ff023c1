"""Signals between the gunicorn master and its workers.

SIGHUP means "look for new model versions": the master relays it to every
worker (`gunicorn.ModelReloadArbiter`), and a worker asked over HTTP to
reload passes it up to the master so its siblings look too.
"""
from __future__ import annotations

import os
import signal
from typing import Callable

#: Set by `serve` to the gunicorn master's pid, for workers to ask it to
#: relay a SIGHUP to all workers (internal: not an option).
ARBITER_PID_ENV = "EMBEDDING_SERVER_ARBITER_PID"


def notify_siblings() -> None:
    """Under `serve`, have every worker look for new versions (the master
    relays SIGHUP to each); elsewhere there are no siblings."""
    arbiter = os.environ.get(ARBITER_PID_ENV, "")
    if arbiter.isdigit() and int(arbiter) == os.getppid():
        os.kill(int(arbiter), signal.SIGHUP)


def on_sighup(callback: Callable[[], None]) -> None:
    """Call `callback` on SIGHUP, in a way safe for gevent and for threads.

    Must be called from the main thread.
    """
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        monkey = None
    if monkey is not None and monkey.is_module_patched("signal"):
        import gevent

        gevent.signal_handler(signal.SIGHUP, callback)
        return
    signal.signal(signal.SIGHUP, lambda signum, frame: callback())
