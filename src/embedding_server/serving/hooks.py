"""What the serving layer asks of the process that hosts it.

The registry and the watcher know nothing of processes, forks or signals;
the host (the gunicorn worker, the development server, a test) hands them
these callables instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class ProcessHooks:
    #: Called once a replaced model version has closed: give its memory back.
    release_memory: Callable[[], None] = _nothing
    #: Called when a reload was asked over HTTP: have the host's other
    #: processes look for new versions too.
    notify_siblings: Callable[[], None] = _nothing
