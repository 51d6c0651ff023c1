"""When the registry looks for new model versions: every MODEL_POLL_SECONDS,
and whenever it is asked (SIGHUP, POST .../reload)."""
from __future__ import annotations

import logging
import threading
from typing import Callable

from .registry import Registry

log = logging.getLogger(__name__)


class Watcher:
    """A background thread that refreshes the registry's models.

    The thread starts with polling on, or on the first request to look;
    it runs in the serving process (after any fork), and under gevent it is
    a greenlet whose loads the registry hands to native threads.
    """

    def __init__(self, registry: Registry, poll_s: float = 0.0,
                 notify_siblings: Callable[[], None] = lambda: None):
        self.registry = registry
        self._notify_siblings = notify_siblings
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="model-watcher")
                self._thread.start()

    def trigger(self) -> None:
        """Look for new versions now (what SIGHUP does)."""
        self.start()
        self._wake.set()

    def notify_siblings(self) -> None:
        """Have the other processes serving these models look too (a hook
        the process layer gives; nothing to do in a single process)."""
        self._notify_siblings()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop:
            woken = self._wake.wait(self.poll_s or None)
            self._wake.clear()
            if self._stop:
                return
            try:
                # Asked explicitly: a version caught mid-write gets one more
                # look a moment later; a poll waits for the next poll instead.
                self.registry.refresh_all(wait=woken)
            except Exception:  # the watcher must outlive any one bad scan
                log.exception("looking for new model versions failed")
